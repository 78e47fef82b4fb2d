// Package elections bundles official election results so that the demo runs
// without any download. README.md in this directory gives their sources.
package elections

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed *.csv *.election.json
var files embed.FS

// Default is the election that votestream demo replays when none is named.
const Default = "us-vt-pres-2024"

// Names returns the ids of the bundled elections.
func Names() []string {
	entries, _ := fs.Glob(files, "*.regions.csv")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e, ".regions.csv"))
	}
	sort.Strings(names)
	return names
}

// IsBundled reports whether name is the id of a bundled election.
func IsBundled(name string) bool {
	_, err := fs.Stat(files, name+".csv")
	return err == nil
}

// Extract writes the files of the bundled election name into dir and returns
// the path of its results file.
func Extract(name, dir string) (string, error) {
	if !IsBundled(name) {
		return "", fmt.Errorf("no bundled election %q: the bundled ones are %s; give a path to a results CSV for others", name, strings.Join(Names(), ", "))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("extract election %s: %w", name, err)
	}
	for _, suffix := range []string{".csv", ".regions.csv", ".election.json"} {
		data, err := files.ReadFile(name + suffix)
		if err != nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name+suffix), data, 0o644); err != nil {
			return "", fmt.Errorf("extract election %s: %w", name, err)
		}
	}
	return filepath.Join(dir, name+".csv"), nil
}
