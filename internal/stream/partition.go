package stream

import (
	"fmt"
	"strconv"
)

// Partitions bounds.
const (
	// DefaultPartitions is one partition: the single log, with the keys
	// of {prefix} exactly as before partitions existed.
	DefaultPartitions = 1
	// MaxPartitions caps Config.Partitions: a slot range of 16 slots per
	// partition, far more logs than a node can follow.
	MaxPartitions = 1024
)

// maxSalt bounds the search of partitionTag. The window it looks for
// holds 1/2048 of the slots at MaxPartitions, so a salt is found within a
// few tens of thousands of tries; the bound only guards the loop.
const maxSalt = 1 << 22

// PartitionOf returns where channel lives in a deployment of partitions
// partitions (below 1 counts as 1). An inbox channel, user:<sub>, lives in
// partition k = subHash(sub) mod partitions, and shared is false. Every
// other channel (broadcast included) is shared: it is appended to every
// partition, and k is 0.
//
// subHash is part of the Redis layout: changing it would move every inbox
// to another partition, so it never changes.
func PartitionOf(channel string, partitions int) (k int, shared bool) {
	if !IsInbox(channel) {
		return 0, true
	}
	if partitions <= 1 {
		return 0, false
	}
	return int(subHash(channel[len(InboxPrefix):]) % uint32(partitions)), false
}

// subHash is the 32-bit FNV-1a hash of sub's bytes (as hash/fnv's New32a
// computes it) passed through MurmurHash3's finalizer fmix32. FNV-1a alone
// will not do: its low n bits depend only on the low n bits of each byte,
// so modulo a power of two, subjects that differ only in higher bits
// ("a" and "q") would all share one partition; the finalizer mixes every
// bit into the low ones. Any language can compute it in a few lines.
func subHash(sub string) uint32 {
	const (
		offset = 2166136261
		prime  = 16777619
	)
	h := uint32(offset)
	for i := 0; i < len(sub); i++ {
		h ^= uint32(sub[i])
		h *= prime
	}
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// partitionTag returns the hash tag, braces included, of partition k of
// partitions (both already validated) for prefix:
//
//   - one partition: "{prefix}", the layout of earlier versions;
//   - more: "{prefix/P/k/s}", P the number of partitions, k the partition
//     and s the smallest non-negative integer that puts the tag's slot
//     (keySlot) in the middle half of the k-th of P equal ranges of the
//     16384 slots. A Cluster whose masters hold equal contiguous slot
//     ranges (as redis-cli --cluster create makes them) then has an equal
//     share of the partitions on each master when P is a multiple of the
//     number of masters; the middle half keeps a tag off the edges of
//     its range, where the masters' split may round differently.
//
// It is a pure function of (prefix, partitions, k): every node computes
// the same tags. A prefix cannot hold '/' (Config.Prefix), so a
// partition's tag is never another prefix's, and P in the tag keeps the
// layouts of two partition counts apart: a deployment that changes P
// starts new logs instead of mixing two routings in one.
func partitionTag(prefix string, partitions, k int) (string, error) {
	if partitions <= 1 {
		return "{" + prefix + "}", nil
	}
	lo, hi := k*clusterSlots/partitions, (k+1)*clusterSlots/partitions
	lo, hi = lo+(hi-lo)/4, hi-(hi-lo)/4
	base := prefix + "/" + strconv.Itoa(partitions) + "/" + strconv.Itoa(k) + "/"
	for s := range maxSalt {
		content := base + strconv.Itoa(s)
		if slot := int(crc16(content)) % clusterSlots; slot >= lo && slot < hi {
			return "{" + content + "}", nil
		}
	}
	return "", fmt.Errorf("no hash tag for partition %d of %d found within %d salts", k, partitions, maxSalt)
}
