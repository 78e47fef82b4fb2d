// Package migrations holds the versioned PostgreSQL schema of votestream.
// Files are named NNNN_description.sql and applied in version order, each once.
package migrations

import "embed"

// Files contains the migration files.
//
//go:embed *.sql
var Files embed.FS
