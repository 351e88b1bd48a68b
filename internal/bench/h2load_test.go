package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h2loadOut is what nghttp2 1.52's h2load printed for a -D 3 run here
// (the progress lines cut).
const h2loadOut = `starting benchmark...
TLS Protocol: TLSv1.3
Application protocol: h2

finished in 4.01s, 20017.33 req/s, 548.05KB/s
requests: 60052 total, 60052 started, 60052 done, 60052 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 60048 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 1.61MB (1683612) total, 303.32KB (310600) headers (space savings 95.73%), 448.59KB (459354) data
                     min         max         mean         sd        +/- sd
time for request:       77us     12.71ms      1.30ms      1.18ms    88.83%
time for connect:        0us         0us         0us         0us     0.00%
time to 1st byte:        0us         0us         0us         0us     0.00%
req/s           :     602.95      653.51      624.95       14.07    59.38%
`

func TestParseH2load(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "h2.log")
	// 100 requests of 1..100 ms, out of order.
	var text string
	for i := 100; i >= 1; i-- {
		text += "1796237750389147\t200\t" + strconv.Itoa(i*1000) + "\n"
	}
	require.NoError(t, os.WriteFile(log, []byte(text), 0o644))
	lat, err := readH2loadLog(log)
	require.NoError(t, err)
	require.Len(t, lat, 100)

	r, err := parseH2load(h2loadOut, lat)
	require.NoError(t, err)
	assert.EqualValues(t, 60052, r.Requests)
	assert.InDelta(t, 20017.33, r.RequestsPerSec, 0.01)
	assert.InDelta(t, 3.0, r.Elapsed.Seconds(), 0.01, "the main duration, without the warm-up h2load's 'finished in' includes")
	assert.Equal(t, 1300*time.Microsecond, r.LatencyAvg)
	assert.Equal(t, 12710*time.Microsecond, r.LatencyMax)
	assert.Equal(t, 50*time.Millisecond, r.Percentiles["50%"], "nearest rank")
	assert.Equal(t, 99*time.Millisecond, r.P99())
	assert.False(t, r.Errors())

	bad := `finished in 2.00s, 10.00 req/s, 1KB/s
requests: 20 total, 20 started, 20 done, 12 succeeded, 8 failed, 3 errored, 1 timeout
status codes: 12 2xx, 0 3xx, 4 4xx, 0 5xx
`
	r, err = parseH2load(bad, nil)
	require.NoError(t, err)
	assert.EqualValues(t, 4, r.Non2xx3xx)
	assert.EqualValues(t, 3, r.SocketErrors.Read)
	assert.EqualValues(t, 1, r.SocketErrors.Timeout)
	assert.True(t, r.Errors())

	_, err = parseH2load("starting benchmark...\nclient could not connect to host\n", nil)
	assert.Error(t, err, "no summary: the run measured nothing")

	require.NoError(t, os.WriteFile(log, []byte("garbage\n"), 0o644))
	_, err = readH2loadLog(log)
	assert.Error(t, err)
}
