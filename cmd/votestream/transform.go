package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/votestream/votestream/functions/transform"
)

// minVoterKeySecret is the shortest voter_key secret accepted, 32 bytes, the
// output size of SHA-256; RFC 2104 advises HMAC keys no shorter than it.
const minVoterKeySecret = 32

// readVoterKeySecret returns the voter_key secret from path, without its
// trailing newline, or from the environment variable VOTER_KEY_SECRET when
// path is empty.
func readVoterKeySecret(path string) ([]byte, error) {
	var secret []byte
	if path != "" {
		content, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read the voter key secret: %w", err)
		}
		secret = bytes.TrimRight(content, "\r\n")
	} else {
		secret = []byte(os.Getenv("VOTER_KEY_SECRET"))
	}
	if len(secret) == 0 {
		return nil, errors.New("the voter key secret is missing: pass --voter-key-secret-file FILE or set VOTER_KEY_SECRET to a random key of 32 bytes or more")
	}
	if len(secret) < minVoterKeySecret {
		return nil, fmt.Errorf("the voter key secret has %d bytes: use a random key of %d bytes or more", len(secret), minVoterKeySecret)
	}
	return secret, nil
}

// newInProcessTransform returns a transform handler on a pool for
// databaseURL, and the function that closes the pool.
func newInProcessTransform(ctx context.Context, databaseURL string, secret []byte, logger *slog.Logger) (*transform.Handler, func(), error) {
	// Unlike a Lambda instance, the local server runs several processor
	// batches at once, one per worker.
	pool, err := transform.NewPool(ctx, databaseURL, int32(max(4, runtime.GOMAXPROCS(0))))
	if err != nil {
		return nil, nil, err
	}
	handler, err := transform.New(transform.Config{Pool: pool, VoterKeySecret: secret, Logger: logger})
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	return handler, pool.Close, nil
}
