package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestAuthResultString(t *testing.T) {
	assert.Equal(t, "denied", Denied.String())
	assert.Equal(t, "granted", Granted.String())
	assert.Equal(t, "user-not-found", UserNotFound.String())
}
