// Package pgcluster runs a throwaway PostgreSQL cluster with the machine's
// initdb and pg_ctl, for the local demo and for tests.
//
// The cluster listens on 127.0.0.1 only, trusts every local connection, and
// keeps its state in one directory, so that a demo that is stopped and started
// again finds its data. PostgreSQL refuses to run as root: when the process
// runs as root, initdb and pg_ctl run as the postgres system user (or nobody
// where that user does not exist) and the directory is handed over to that user.
package pgcluster
