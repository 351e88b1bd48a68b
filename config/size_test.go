package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/anyhost/anyhost/config"
)

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"123", 123},
		{"1048576", 1 << 20},
		{"64KiB", 64 << 10},
		{"10MiB", 10 << 20},
		{"1GiB", 1 << 30},
		{"2KB", 2 << 10},
		{"3MB", 3 << 20},
		{"4GB", 4 << 30},
		{"5K", 5 << 10},
		{"6M", 6 << 20},
		{"7G", 7 << 30},
		{"8k", 8 << 10},
		{"9m", 9 << 20},
		{"1g", 1 << 30},
		{" 64 KiB ", 64 << 10},
		{"8589934591GiB", (1<<33 - 1) << 30}, // the largest GiB count that fits
		{"9223372036854775807", 1<<63 - 1},
	}
	for _, tc := range good {
		n, err := config.ParseSize(tc.in)
		if assert.NoError(t, err, "%q", tc.in) {
			assert.Equal(t, tc.want, n, "%q", tc.in)
		}
	}
	bad := []string{
		"", "KiB", "ten", "1.5MiB", "-1", "-1KiB", "10 TiB", "10B", "10 kib", "1 2",
		"9223372036854775808",  // > MaxInt64
		"8589934592GiB",        // 2^63: wraps to MinInt64
		"17179869184GiB",       // 2^64: wraps to 0
		"17179869185GiB",       // 2^64 + 2^30: wraps to 1 GiB
		"9007199254740993KiB",  // 2^53+1 KiB: wraps
		"9223372036854775807K", // MaxInt64 KiB
	}
	for _, in := range bad {
		n, err := config.ParseSize(in)
		assert.Error(t, err, "%q gave %d", in, n)
		if err != nil {
			assert.Contains(t, err.Error(), "is not a size", "%q", in)
		}
	}
}
