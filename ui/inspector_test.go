package ui

import (
	"strings"
	"testing"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// A member opens in the inspector with its group, its assignment and its
// consumer's configuration; once it left the group, the panel says so.
func TestInspectorShowsAMember(t *testing.T) {
	l := lab.New(lab.Config{Seed: 5})
	if err := l.AddGroup(lab.GroupConfig{Name: "scores", Members: 2}); err != nil {
		t.Fatal(err)
	}
	id := lab.MemberIDBase + 2
	var m lab.MemberView
	for waited := 0; ; waited += 100 {
		if waited > 60000 {
			t.Fatalf("c-2 has no partition after 60 s: %+v", l.Groups())
		}
		l.Advance(100)
		g := l.Groups()[0]
		if g.State == "Stable" && len(g.Members) == 2 && len(g.Members[1].Partitions) > 0 && g.Members[1].State == "STABLE" {
			m = g.Members[1]
			break
		}
	}
	if m.ID != id {
		t.Fatalf("the second member is %d, want %d", m.ID, id)
	}
	if html := app.HTMLString(&GroupCard{Lab: l, View: l.Groups()[0]}); !strings.Contains(html, `class="member-name inspectable"`) {
		t.Errorf("a member's name is not inspectable:\n%s", html)
	}
	in := &Inspector{Lab: l, Sel: &Inspected{What: "member", Member: id}}
	html := app.HTMLString(in)
	want := []string{`data-what="member"`, `data-member="c-2"`, "c-2 in group.id=scores", "member id: " + m.MemberID,
		"consumer config", "SessionTimeoutMs", "AutoOffsetReset", ">Position<", ">Committed<", ">Lag<"}
	var parts []int32
	for _, p := range m.Partitions {
		parts = append(parts, p.Partition)
	}
	want = append(want, "assigned: "+tps(l.Topic(), parts))
	for _, w := range want {
		if !strings.Contains(html, w) {
			t.Errorf("no %s in\n%s", w, html)
		}
	}
	if strings.Contains(html, "data-gone") {
		t.Error("a running member shows as gone")
	}

	l.RemoveMember(id)
	for waited := 0; len(l.Groups()[0].Members) != 1; waited += 100 {
		if waited > 30000 {
			t.Fatalf("c-2 still in the group 30 s after it left: %+v", l.Groups()[0].Members)
		}
		l.Advance(100)
	}
	// (HTMLString writes an attribute whose value is "true" bare.)
	html = app.HTMLString(in)
	for _, w := range []string{`data-what="member"`, `data-member="c-2"`, "data-gone", "Member c-2 left the group scores"} {
		if !strings.Contains(html, w) {
			t.Errorf("no %s once c-2 left:\n%s", w, html)
		}
	}
}
