package host

import (
	"sync"

	"github.com/streamlab/streamlab/core"
)

// Link makes to the destination of what from's machine sends to to's id,
// as a connection between two brokers of one process would: in order, and
// without blocking from's goroutine (a mailbox goroutine carries the
// envelopes and waits when to's queue is full). It ends when either host
// stops; Link again to replace it.
func Link(from, to *Host) {
	var (
		mu      sync.Mutex
		pending []core.Envelope
		ended   bool
		wake    = make(chan struct{}, 1)
	)
	from.Register(to.ID(), func(env core.Envelope) {
		mu.Lock()
		if !ended {
			pending = append(pending, env)
		}
		mu.Unlock()
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	go func() {
		// An ended link drops what from sends but stays registered: a
		// later Link to a restarted to replaces it, and unregistering here
		// could remove that newer link.
		defer func() {
			mu.Lock()
			ended, pending = true, nil
			mu.Unlock()
		}()
		for {
			select {
			case <-wake:
			case <-from.Done():
				return
			case <-to.Done():
				return
			}
			mu.Lock()
			batch := pending
			pending = nil
			mu.Unlock()
			for _, env := range batch {
				if to.Step(env) != nil {
					return
				}
			}
		}
	}()
}
