package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
)

// installHint is how to install the server binaries on Debian and Ubuntu.
const installHint = "install the PostgreSQL server with `apt-get install postgresql`"

// binaries are the absolute paths of the server programs the cluster runs.
type binaries struct {
	initdb string
	pgCtl  string
}

// findBinaries looks for initdb and pg_ctl on PATH and then in the Debian
// layout /usr/lib/postgresql/<major>/bin, newest major version first. Debian
// does not put initdb on PATH, so the second place is the usual one there.
func findBinaries() (binaries, error) {
	return lookBinaries(debianBinDirs())
}

// lookBinaries looks on PATH and then in dirs, in order.
func lookBinaries(dirs []string) (binaries, error) {
	initdb, errInitdb := exec.LookPath("initdb")
	pgCtl, errPgCtl := exec.LookPath("pg_ctl")
	if errInitdb == nil && errPgCtl == nil {
		return binaries{initdb: initdb, pgCtl: pgCtl}, nil
	}

	for _, dir := range dirs {
		b := binaries{initdb: filepath.Join(dir, "initdb"), pgCtl: filepath.Join(dir, "pg_ctl")}
		if isExecutable(b.initdb) && isExecutable(b.pgCtl) {
			return b, nil
		}
	}
	return binaries{}, errors.New("PostgreSQL server binaries initdb and pg_ctl were not found on PATH or in /usr/lib/postgresql/*/bin: " + installHint)
}

// debianBinDirs returns /usr/lib/postgresql/<major>/bin directories, highest major first.
func debianBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(dir string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
		return n
	}
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	return dirs
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// missingBinaryError reports a server program that disappeared between lookup and use.
func missingBinaryError(path string, err error) error {
	return fmt.Errorf("run %s: %w: %s", path, err, installHint)
}
