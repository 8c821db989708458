package broker

import "testing"

// Topic ids must not repeat after a restart: the broker's random source is
// seeded from its config, so Open must move it past the stored ids.
func TestTopicIDsUniqueAcrossRestarts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		h := newHarness(t, b.open(t))
		h.createTopic("first", 1, nil)
		h.restart(b)
		h.createTopic("second", 1, nil)
		if a, b := h.topicID("first"), h.topicID("second"); a == b {
			t.Fatalf("topics first and second share the id %x", a)
		}
	})
}
