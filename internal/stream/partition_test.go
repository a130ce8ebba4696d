package stream

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestPartitionOf(t *testing.T) {
	tests := []struct {
		channel    string
		partitions int
		k          int
		shared     bool
	}{
		{"broadcast", 6, 0, true},
		{"users:42", 6, 0, true},
		{"User:42", 6, 0, true},
		{"user", 6, 0, true},
		{"user:42", 1, 0, false},
		{"user:42", 0, 0, false},
		{"user:42", -3, 0, false},
		// Pinned: the routing of a deployment never changes.
		{"user:42", 2, 1, false},
		{"user:42", 3, 2, false},
		{"user:42", 6, 5, false},
		{"user:alice", 12, 6, false},
		{"user:q", 3, 2, false},
		{"user:", 12, 11, false},
	}
	for _, tt := range tests {
		k, shared := PartitionOf(tt.channel, tt.partitions)
		if k != tt.k || shared != tt.shared {
			t.Errorf("PartitionOf(%q, %d) = %d, %v; want %d, %v", tt.channel, tt.partitions, k, shared, tt.k, tt.shared)
		}
	}
}

// TestSubHash: subHash is FNV-1a 32 (hash/fnv) and fmix32, pinned.
func TestSubHash(t *testing.T) {
	for _, tt := range []struct {
		sub  string
		want uint32
	}{{"42", 686566589}, {"alice", 3927234078}, {"", 2872998923}} {
		if got := subHash(tt.sub); got != tt.want {
			t.Errorf("subHash(%q) = %d, want %d", tt.sub, got, tt.want)
		}
	}
	for i := range 1000 {
		sub := "s" + strconv.Itoa(i*7919)
		f := fnv.New32a()
		_, _ = f.Write([]byte(sub))
		h := f.Sum32()
		h ^= h >> 16
		h *= 0x85ebca6b
		h ^= h >> 13
		h *= 0xc2b2ae35
		h ^= h >> 16
		if got := subHash(sub); got != h {
			t.Fatalf("subHash(%q) = %d, hash/fnv and fmix32 give %d", sub, got, h)
		}
	}
}

// TestPartitionOfBalanced: 10 000 subjects of several shapes spread
// evenly: with 6 partitions each holds 12 % to 22 %, and with any count up
// to 16 each holds within a quarter of its share, powers of two included.
func TestPartitionOfBalanced(t *testing.T) {
	const n = 10000
	shapes := map[string]func(i int) string{
		"decimal":     strconv.Itoa,
		"padded":      func(i int) string { return fmt.Sprintf("%010d", i) },
		"email":       func(i int) string { return fmt.Sprintf("u%d@example.com", i) },
		"hex":         func(i int) string { return fmt.Sprintf("%08x-4a1f", uint32(i)*2654435761) },
		"high bits":   func(i int) string { return highBits(i) },
		"trailing 0s": func(i int) string { return strconv.Itoa(i) + "000" },
	}
	for name, sub := range shapes {
		for partitions := 2; partitions <= 16; partitions++ {
			counts := make([]int, partitions)
			for i := range n {
				k, shared := PartitionOf(InboxPrefix+sub(i), partitions)
				if shared || k < 0 || k >= partitions {
					t.Fatalf("%s: PartitionOf(%q, %d) = %d, %v", name, sub(i), partitions, k, shared)
				}
				counts[k]++
			}
			lo, hi := n*3/4/partitions, n*5/4/partitions
			if partitions == 6 {
				lo, hi = n*12/100, n*22/100
			}
			if slices.Min(counts) < lo || slices.Max(counts) > hi {
				t.Errorf("%s, %d partitions: counts %v, want each in [%d, %d]", name, partitions, counts, lo, hi)
			}
		}
	}
}

// highBits returns 14 letters, 'a' or 'q' for the bits of i: subjects
// that differ only in bit 4 of their bytes, which FNV-1a alone would put
// in one partition of 16.
func highBits(i int) string {
	var b strings.Builder
	for bit := range 14 {
		b.WriteByte("aq"[i>>bit&1])
	}
	return b.String()
}

// TestPartitionTagGolden pins the tags: they name the keys of running
// deployments.
func TestPartitionTagGolden(t *testing.T) {
	want := map[int][]string{
		1:  {"{alarmgate}"},
		2:  {"{alarmgate/2/0/1}", "{alarmgate/2/1/0}"},
		3:  {"{alarmgate/3/0/2}", "{alarmgate/3/1/0}", "{alarmgate/3/2/3}"},
		6:  {"{alarmgate/6/0/11}", "{alarmgate/6/1/3}", "{alarmgate/6/2/12}", "{alarmgate/6/3/3}", "{alarmgate/6/4/13}", "{alarmgate/6/5/11}"},
		12: {"{alarmgate/12/0/122}", "{alarmgate/12/1/12}", "{alarmgate/12/2/13}", "{alarmgate/12/3/7}", "{alarmgate/12/4/58}", "{alarmgate/12/5/13}", "{alarmgate/12/6/20}", "{alarmgate/12/7/30}", "{alarmgate/12/8/62}", "{alarmgate/12/9/11}", "{alarmgate/12/10/5}", "{alarmgate/12/11/6}"},
	}
	for partitions, tags := range want {
		var slots []int
		for k, w := range tags {
			got, err := partitionTag("alarmgate", partitions, k)
			if err != nil || got != w {
				t.Errorf("partitionTag(alarmgate, %d, %d) = %q, %v; want %q", partitions, k, got, err, w)
			}
			slots = append(slots, keySlot(got))
		}
		t.Logf("%d partitions: slots %v", partitions, slots)
	}
}

// TestPartitionTagSpread: every tag of every partition count falls in the
// middle half of its partition's slot range, so masters holding equal
// contiguous ranges hold equal shares of the partitions.
func TestPartitionTagSpread(t *testing.T) {
	counts := []int{2, 3, 4, 5, 6, 7, 8, 9, 12, 16, 24, 100, MaxPartitions}
	for _, prefix := range []string{"alarms", "alarmgate", "A.b:c_d-9"} {
		for _, partitions := range counts {
			if partitions == MaxPartitions && prefix != "alarms" {
				continue // one prefix is enough for the slowest count
			}
			width := clusterSlots / partitions
			seen := map[string]bool{}
			for k := range partitions {
				tag, err := partitionTag(prefix, partitions, k)
				if err != nil {
					t.Fatal(err)
				}
				pre := "{" + prefix + "/" + strconv.Itoa(partitions) + "/" + strconv.Itoa(k) + "/"
				if !strings.HasPrefix(tag, pre) || !strings.HasSuffix(tag, "}") || seen[tag] {
					t.Fatalf("partitionTag(%s, %d, %d) = %q", prefix, partitions, k, tag)
				}
				seen[tag] = true
				mid := k*clusterSlots/partitions + width/2
				if d := keySlot(tag) - mid; d < -width/4-1 || d > width/4+1 {
					t.Errorf("%s, %d partitions: partition %d's tag %s in slot %d, %d from the middle of its range", prefix, partitions, k, tag, keySlot(tag), d)
				}
			}
		}
	}
}
