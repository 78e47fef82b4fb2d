package pgcluster

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// serverUser is the operating-system account that initdb and pg_ctl run as.
// A nil *serverUser means the current user.
type serverUser struct {
	name string
	uid  uint32
	gid  uint32
}

// unprivilegedUser returns the account to run PostgreSQL as when the process
// is root: postgres, which the Debian package creates, or else nobody. It
// returns nil when the process is not root, because PostgreSQL then runs as
// the current user.
func unprivilegedUser() (*serverUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, errUID := strconv.ParseUint(u.Uid, 10, 32)
		gid, errGID := strconv.ParseUint(u.Gid, 10, 32)
		if errUID != nil || errGID != nil {
			continue
		}
		return &serverUser{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("this process runs as root and PostgreSQL cannot, but neither the postgres nor the nobody user exists to run it as: %s, which creates the postgres user", installHint)
}

// command builds a command that runs as u. Setting the credential in
// SysProcAttr needs no setpriv, runuser or su, so it works on any Linux.
func (u *serverUser) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if u != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid}}
		// HOME of root is not readable by the server user; initdb and
		// pg_ctl do not need a home, but some shells in between do.
		cmd.Dir = "/"
		cmd.Env = append(os.Environ(), "HOME=/", "USER="+u.name, "LOGNAME="+u.name)
	}
	return cmd
}

// chownTree hands dir and everything below it to u.
func (u *serverUser) chownTree(dir string) error {
	if u == nil {
		return nil
	}
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(u.uid), int(u.gid))
	})
}

// checkSearchable reports the first parent of dir that u cannot enter, which
// would make initdb fail with a bare "permission denied".
func (u *serverUser) checkSearchable(dir string) error {
	if u == nil {
		return nil
	}
	for parent := filepath.Dir(dir); ; parent = filepath.Dir(parent) {
		info, err := os.Stat(parent)
		if err != nil {
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if ok {
			mode := info.Mode().Perm()
			var searchable bool
			switch {
			case st.Uid == u.uid:
				searchable = mode&0o100 != 0
			case st.Gid == u.gid:
				searchable = mode&0o010 != 0
			default:
				searchable = mode&0o001 != 0
			}
			if !searchable {
				return fmt.Errorf("directory %s cannot be entered by user %s, which runs PostgreSQL because this process is root: run `chmod o+x %s` or choose a directory under /tmp", parent, u.name, parent)
			}
		}
		if parent == filepath.Dir(parent) {
			return nil
		}
	}
}
