package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/votestream/votestream/internal/election"
	"github.com/votestream/votestream/internal/simulate"
)

// replaySettings are the inputs that decide which ballots a replay produces.
// A replay that resumes must use the ones it started with. Another seed
// orders the voters differently, so resuming at the same position would skip
// some voters and repeat others. Other fault rates would change which
// rejects the ledger must hold.
type replaySettings struct {
	Seed   uint64          `json:"seed"`
	Faults simulate.Faults `json:"faults"`
}

// replayPaths returns the checkpoint and settings files of an election's
// replay in a state directory.
func replayPaths(stateDir string, e *election.Election) (checkpoint, settings string) {
	dir := filepath.Join(stateDir, "replay")
	return filepath.Join(dir, e.ID+".position"), filepath.Join(dir, e.ID+".settings.json")
}

// loadReplaySettings returns the settings stored beside a checkpoint, and
// false when there are none.
func loadReplaySettings(path string) (replaySettings, bool, error) {
	var s replaySettings
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("read replay settings: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, false, fmt.Errorf("replay settings %s are not valid JSON: %w (delete the state directory to start over)", path, err)
	}
	return s, true, nil
}

func saveReplaySettings(path string, s replaySettings) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode replay settings: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write replay settings: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write replay settings: %w", err)
	}
	return nil
}
