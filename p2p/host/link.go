package host

import (
	"sync"

	"github.com/streamlab/streamlab/core"
)

// Link makes to the destination of what from's machine sends to to's id,
// as a connection between two brokers of one process would: in order, and
// without blocking from's goroutine (a mailbox goroutine carries the
// envelopes and waits when to's queue is full). It ends when either host
// stops.
func Link(from, to *Host) {
	var (
		mu      sync.Mutex
		pending []core.Envelope
		wake    = make(chan struct{}, 1)
	)
	from.Register(to.ID(), func(env core.Envelope) {
		mu.Lock()
		pending = append(pending, env)
		mu.Unlock()
		select {
		case wake <- struct{}{}:
		default:
		}
	})
	go func() {
		defer from.Unregister(to.ID())
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
