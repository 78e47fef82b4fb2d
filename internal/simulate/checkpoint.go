package simulate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SaveCheckpoint writes position to path atomically: it writes a temporary
// file in the same directory, syncs it and renames it over path, so a crash
// leaves either the old or the new checkpoint. The file holds the position
// as a decimal number and a newline.
func SaveCheckpoint(path string, position int64) error {
	if position < 0 {
		return fmt.Errorf("save checkpoint %s: position %d is negative", path, position)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed

	if _, err := tmp.WriteString(strconv.FormatInt(position, 10) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// LoadCheckpoint reads a position written by SaveCheckpoint. A missing file
// returns 0 and no error: the replay starts from the beginning.
func LoadCheckpoint(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load checkpoint: %w", err)
	}
	text := strings.TrimSpace(string(data))
	position, err := strconv.ParseInt(text, 10, 64)
	if err != nil || position < 0 {
		return 0, fmt.Errorf("checkpoint %s holds %q, not a replay position: delete it to start from the beginning", path, text)
	}
	return position, nil
}
