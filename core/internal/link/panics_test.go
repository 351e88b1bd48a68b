package link

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPanicLogSummarises(t *testing.T) {
	var p PanicLog
	const h = "handler"
	for i := range fullPanicStacks {
		ok, full, _ := p.Note(h)
		assert.True(t, ok && full, "panic %d", i+1)
	}
	ok, _, _ := p.Note(h)
	assert.False(t, ok, "within a minute of the last line")
	p.byID[h].last = p.byID[h].last.Add(-panicEvery)
	ok, full, unlogged := p.Note(h)
	assert.True(t, ok)
	assert.False(t, full)
	assert.Equal(t, 1, unlogged)
}
