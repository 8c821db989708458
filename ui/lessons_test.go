package ui

import (
	"testing"

	"github.com/streamlab/streamlab/core/lab"
)

// Every lesson step has words and a check; lesson 1's checks, the page's
// own, tick on the page's lab as its steps are done.
func TestLessons(t *testing.T) {
	for _, ls := range lessons {
		for i, s := range ls.steps {
			if s.do == "" || s.watch == "" || s.check == nil {
				t.Errorf("%s step %d: incomplete", ls.title, i+1)
			}
		}
	}
	l := lab.New(labConfig)
	pr := lab.NewProgress(l, lessons[0].checks())
	for i, key := range []string{"user-1", "alice", "user-1"} {
		if got := pr.Update(); got != i {
			t.Fatalf("before producing %s: %d steps done, want %d", key, got, i)
		}
		l.Produce([]byte(key), []byte("v"))
		l.Advance(3000)
	}
	if got := pr.Update(); got != 4 {
		t.Errorf("lesson 1 done steps %d, want 4", got)
	}
}
