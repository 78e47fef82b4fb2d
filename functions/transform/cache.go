package transform

import (
	"container/list"
	"sync"
)

// voterKey identifies a voter across elections.
type voterKey struct {
	electionID string
	voterID    string
}

// voterInfo is what enrichment needs from a voters row.
type voterInfo struct {
	birthYear  int
	regionCode string
}

// voterCache is a least-recently-used cache of voters, bounded by a number
// of entries. It is safe for concurrent use. Absent voters are not cached,
// because a registration can arrive after the first ballot.
type voterCache struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // front is the most recently used
	entries  map[voterKey]*list.Element
}

type cacheEntry struct {
	key  voterKey
	info voterInfo
}

// newVoterCache returns a cache of capacity voters; capacity 0 or less
// stores nothing.
func newVoterCache(capacity int) *voterCache {
	return &voterCache{capacity: capacity, order: list.New(), entries: make(map[voterKey]*list.Element)}
}

func (c *voterCache) get(k voterKey) (voterInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return voterInfo{}, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).info, true
}

func (c *voterCache) put(k voterKey, info voterInfo) {
	if c.capacity <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[k]; ok {
		e.Value.(*cacheEntry).info = info
		c.order.MoveToFront(e)
		return
	}
	c.entries[k] = c.order.PushFront(&cacheEntry{key: k, info: info})
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
	}
}

func (c *voterCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
