package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// streamWriteTimeout bounds one write to an event stream, so that a client
// that stopped reading is dropped instead of holding a goroutine forever.
const streamWriteTimeout = 10 * time.Second

// serveEvents streams the Summary of the requested election as server-sent
// events named "summary": one at once, then one per change, at most one per
// PushInterval so that a burst of snapshots costs the browser one redraw.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	electionID := r.URL.Query().Get("election")
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	// Reverse proxies such as nginx buffer responses unless told not to.
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	keepAlive := time.NewTicker(s.cfg.KeepAlive)
	defer keepAlive.Stop()

	var sent uint64
	first := true
	for {
		version, changed := s.state.watch()
		if first || version != sent {
			data, dataVersion, err := s.state.encodedSummary(electionID)
			if err != nil {
				s.logger.Error("dashboard: event stream ended", "election", electionID, "error", err)
				return
			}
			if err := writeEvent(rc, w, fmt.Sprintf("event: summary\ndata: %s\n\n", data)); err != nil {
				s.logger.Debug("dashboard: event stream client left", "remote", r.RemoteAddr, "error", err)
				return
			}
			sent, first = dataVersion, false

			// Changes during this pause are sent together after it.
			select {
			case <-time.After(s.cfg.PushInterval):
			case <-r.Context().Done():
				return
			case <-s.done:
				return
			}
			continue
		}

		select {
		case <-changed:
		case <-keepAlive.C:
			if err := writeEvent(rc, w, ": keep-alive\n\n"); err != nil {
				s.logger.Debug("dashboard: event stream client left", "remote", r.RemoteAddr, "error", err)
				return
			}
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
}

// writeEvent writes and flushes one event within streamWriteTimeout.
func writeEvent(rc *http.ResponseController, w http.ResponseWriter, event string) error {
	if err := rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := w.Write([]byte(event)); err != nil {
		return err
	}
	return rc.Flush()
}
