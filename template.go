// Package votestream embeds the AWS deployment template, so that the local
// Firehose of every votestream binary reads the same delivery stream
// definition that sam deploy creates.
package votestream

import _ "embed"

// SAMTemplate is the content of sam-template.yaml at build time.
//
//go:embed sam-template.yaml
var SAMTemplate []byte
