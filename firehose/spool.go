package firehose

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The spool keeps every accepted record on disk until it is delivered, so
// that a crash after PutRecordBatch returned loses nothing.
//
// It is a sequence of segment files per stream. A segment contains frames of
// [length uint32][CRC-32C uint32][arrival epoch ms int64][data], and an
// acknowledgement file beside it lists the indices (uint32) of frames that
// were delivered, dropped or written to the error prefix. A segment is
// removed when it is no longer the active one and every frame in it is
// acknowledged. On start, frames without an acknowledgement are read back.
// A record delivered but not yet acknowledged when the process died is
// delivered again, which matches Firehose's at-least-once delivery.

const (
	segmentExtension = ".spool"
	ackExtension     = ".ack"
	frameHeaderSize  = 16
	// maxSegmentSize is when the active segment is closed and a new one
	// started, so that delivered segments can be removed while the stream
	// keeps running.
	maxSegmentSize = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type spool struct {
	dir string

	mu       sync.Mutex
	active   *segment
	segments map[int64]*segment
}

type segment struct {
	id       int64 // creation time in Unix nanoseconds, so ids grow across restarts
	path     string
	file     *os.File // open for appending while the segment is active
	ackFile  *os.File
	size     int64
	count    uint32 // frames written
	pending  int    // frames not yet acknowledged
	isActive bool
}

// spoolRef identifies a spooled record.
type spoolRef struct {
	seg   *segment
	index uint32
}

// recordID returns the RecordId of a spooled record: unique within the
// state directory because segment ids grow.
func (r spoolRef) recordID() string {
	return fmt.Sprintf("%016x%08x", r.seg.id, r.index)
}

// spooledRecord is a record read back from the spool on start.
type spooledRecord struct {
	ref     spoolRef
	arrival time.Time
	data    []byte
}

// openSpool opens the spool in dir, creating dir if needed, and returns the
// records that were accepted but not acknowledged before.
func openSpool(dir string) (*spool, []spooledRecord, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create spool directory: %w", err)
	}
	s := &spool{dir: dir, segments: map[int64]*segment{}}

	names, err := filepath.Glob(filepath.Join(dir, "*"+segmentExtension))
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(names)
	var recovered []spooledRecord
	for _, name := range names {
		records, seg, err := s.recover(name)
		if err != nil {
			return nil, nil, fmt.Errorf("recover spool segment %s: %w", name, err)
		}
		if seg != nil {
			recovered = append(recovered, records...)
		}
	}
	return s, recovered, nil
}

// recover reads one segment left by an earlier run. It returns a nil
// segment when every frame was acknowledged and the files were removed.
func (s *spool) recover(path string) ([]spooledRecord, *segment, error) {
	id, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(path), segmentExtension), 10, 64)
	if err != nil {
		return nil, nil, fmt.Errorf("segment name is not a number: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	acked := map[uint32]bool{}
	ackPath := strings.TrimSuffix(path, segmentExtension) + ackExtension
	if ackData, err := os.ReadFile(ackPath); err == nil {
		for i := 0; i+4 <= len(ackData); i += 4 {
			acked[binary.LittleEndian.Uint32(ackData[i:])] = true
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}

	seg := &segment{id: id, path: path}
	var records []spooledRecord
	for offset := 0; offset+frameHeaderSize <= len(data); {
		length := int(binary.LittleEndian.Uint32(data[offset:]))
		sum := binary.LittleEndian.Uint32(data[offset+4:])
		end := offset + frameHeaderSize + length
		if end > len(data) || crc32.Checksum(data[offset+8:end], castagnoli) != sum {
			// A torn frame at the end is a write that was never acknowledged
			// to the client, because the fsync comes before the response.
			break
		}
		index := seg.count
		seg.count++
		if !acked[index] {
			arrival := int64(binary.LittleEndian.Uint64(data[offset+8:]))
			records = append(records, spooledRecord{
				ref:     spoolRef{seg: seg, index: index},
				arrival: time.UnixMilli(arrival),
				data:    data[offset+frameHeaderSize : end],
			})
		}
		offset = end
	}

	if len(records) == 0 {
		if err := removeSegment(path, ackPath); err != nil {
			return nil, nil, err
		}
		return nil, nil, nil
	}
	seg.pending = len(records)
	if seg.ackFile, err = os.OpenFile(ackPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, nil, err
	}
	s.segments[id] = seg
	return records, seg, nil
}

// append writes records to the active segment and syncs it to disk before
// it returns, so that an acknowledged PutRecordBatch survives a crash.
func (s *spool) append(records [][]byte, arrival time.Time) ([]spoolRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.active == nil || s.active.size >= maxSegmentSize {
		if err := s.rollLocked(); err != nil {
			return nil, err
		}
	}
	seg := s.active

	total := 0
	for _, r := range records {
		total += frameHeaderSize + len(r)
	}
	buf := make([]byte, 0, total)
	refs := make([]spoolRef, len(records))
	for i, r := range records {
		var header [frameHeaderSize]byte
		binary.LittleEndian.PutUint32(header[0:], uint32(len(r)))
		binary.LittleEndian.PutUint64(header[8:], uint64(arrival.UnixMilli()))
		sum := crc32.Update(crc32.Checksum(header[8:], castagnoli), castagnoli, r)
		binary.LittleEndian.PutUint32(header[4:], sum)
		buf = append(buf, header[:]...)
		buf = append(buf, r...)
		refs[i] = spoolRef{seg: seg, index: seg.count + uint32(i)}
	}
	if _, err := seg.file.Write(buf); err != nil {
		return nil, fmt.Errorf("write spool segment %s: %w", seg.path, err)
	}
	if err := seg.file.Sync(); err != nil {
		return nil, fmt.Errorf("sync spool segment %s: %w", seg.path, err)
	}
	seg.size += int64(len(buf))
	seg.count += uint32(len(records))
	seg.pending += len(records)
	return refs, nil
}

// rollLocked closes the active segment and starts a new one.
func (s *spool) rollLocked() error {
	if old := s.active; old != nil {
		old.isActive = false
		if err := old.file.Close(); err != nil {
			return fmt.Errorf("close spool segment %s: %w", old.path, err)
		}
		old.file = nil
		if err := s.removeIfDoneLocked(old); err != nil {
			return err
		}
	}

	id := time.Now().UnixNano()
	for s.segments[id] != nil {
		id++
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%020d%s", id, segmentExtension))
	file, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create spool segment: %w", err)
	}
	ackFile, err := os.OpenFile(strings.TrimSuffix(path, segmentExtension)+ackExtension, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		file.Close()
		return fmt.Errorf("create spool acknowledgement file: %w", err)
	}
	seg := &segment{id: id, path: path, file: file, ackFile: ackFile, isActive: true}
	s.segments[id] = seg
	s.active = seg
	return nil
}

// ack marks records as finished: delivered, dropped or written to the
// error prefix. Segments whose records are all finished are removed.
func (s *spool) ack(refs []spoolRef) error {
	if len(refs) == 0 {
		return nil
	}
	bySegment := map[*segment][]byte{}
	for _, r := range refs {
		bySegment[r.seg] = binary.LittleEndian.AppendUint32(bySegment[r.seg], r.index)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for seg, indices := range bySegment {
		if seg.ackFile == nil {
			continue // already removed
		}
		if _, err := seg.ackFile.Write(indices); err != nil {
			errs = append(errs, fmt.Errorf("write acknowledgements of %s: %w", seg.path, err))
			continue
		}
		seg.pending -= len(indices) / 4
		if err := s.removeIfDoneLocked(seg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *spool) removeIfDoneLocked(seg *segment) error {
	if seg.isActive || seg.pending > 0 {
		return nil
	}
	if seg.ackFile != nil {
		seg.ackFile.Close()
		seg.ackFile = nil
	}
	delete(s.segments, seg.id)
	return removeSegment(seg.path, strings.TrimSuffix(seg.path, segmentExtension)+ackExtension)
}

func removeSegment(path, ackPath string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove delivered spool segment: %w", err)
	}
	if err := os.Remove(ackPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove delivered spool segment: %w", err)
	}
	return nil
}

// close closes the open files. Unacknowledged records stay on disk for the
// next start.
func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, seg := range s.segments {
		if seg.file != nil {
			errs = append(errs, seg.file.Close())
			seg.file = nil
		}
		if seg.ackFile != nil {
			errs = append(errs, seg.ackFile.Sync(), seg.ackFile.Close())
			seg.ackFile = nil
		}
	}
	if s.active != nil {
		s.active.isActive = false
		if s.active.pending == 0 {
			removeSegment(s.active.path, strings.TrimSuffix(s.active.path, segmentExtension)+ackExtension)
		}
		s.active = nil
	}
	return errors.Join(errs...)
}
