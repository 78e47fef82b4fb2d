package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestBenchUsageErrorNamesTarget(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "bridge", "--votes", "0"}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("exit code = %d, want %d; stderr: %s", code, exitUsage, stderr.String())
	}
	if !strings.Contains(stderr.String(), "--votes 0 is invalid") {
		t.Errorf("stderr = %q, want it to name the invalid --votes", stderr.String())
	}
	if !strings.Contains(stderr.String(), "Run 'votestream bench bridge --help'") {
		t.Errorf("stderr = %q, want it to point to bench bridge --help", stderr.String())
	}
}
