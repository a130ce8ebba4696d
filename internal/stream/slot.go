package stream

import "strings"

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// keySlot returns the Redis Cluster hash slot of key, as the Cluster
// specification defines it (HASH_SLOT in "Redis cluster specification",
// keyHashSlot in Redis' cluster.c): CRC16 of the key, or of its hash tag,
// modulo 16384. The hash tag is what lies between the first '{' and the
// first '}' after it, when that is not empty; otherwise the whole key is
// hashed.
func keySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	return int(crc16(key)) % clusterSlots
}

// crc16 is the CRC16 of the Cluster specification: CRC-16/XMODEM
// (polynomial 0x1021, initial value 0, no reflection, no final XOR);
// crc16("123456789") is 0x31C3.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
