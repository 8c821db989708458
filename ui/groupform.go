package ui

import (
	"fmt"
	"strconv"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/client"
	"github.com/streamlab/streamlab/core/lab"
)

// GroupForm adds a consumer group: its group.id, assignor, commit mode,
// processing delay, session.timeout.ms and first members.
//
// For the e2e tests: #group-id, #group-assignor, #group-commit,
// #group-delay, #group-session and #group-members are the fields,
// #add-group the button, #group-error the refusal.
type GroupForm struct {
	app.Compo
	Lab *lab.Lab
	// Groups is how many groups exist: the suggested name changes with it.
	// Ready: the topic exists, members can start.
	Groups int
	Ready  bool

	name     string
	named    bool // the learner typed a name
	assignor string
	commit   client.CommitMode
	delayMs  int64
	session  int32
	members  int
	err      string
}

// commitChoices are the commit modes, in Kafka's words: label in the
// form, long on a group's card.
var commitChoices = []struct {
	mode        client.CommitMode
	label, long string
}{
	{client.CommitAuto, "true (every 5 s)", "enable.auto.commit=true (auto.commit.interval.ms=5000)"},
	{client.CommitAfterProcessing, "false: commitSync after processing (at-least-once)",
		"enable.auto.commit=false, commitSync after processing (at-least-once)"},
	{client.CommitBeforeProcessing, "false: commitSync before processing (at-most-once)",
		"enable.auto.commit=false, commitSync before processing (at-most-once)"},
}

// Choices for the processing delay (per record) and session.timeout.ms.
var (
	delayChoices   = []int64{0, 20, 100, 500}
	sessionChoices = []int32{6000, 10000, 45000}
)

// groupNames are suggested group.ids, in turn.
var groupNames = []string{"scores", "audit", "billing", "alerts"}

func (f *GroupForm) OnInit() {
	f.assignor, f.session, f.members = "range", 10000, 1
}

// suggested is the name the form offers: the first suggestion not taken.
func (f *GroupForm) suggested() string {
	taken := map[string]bool{}
	for _, g := range f.Lab.Groups() {
		taken[g.Config.Name] = true
	}
	for _, n := range groupNames {
		if !taken[n] {
			return n
		}
	}
	return fmt.Sprintf("group-%d", f.Groups+1)
}

// Render draws the form.
func (f *GroupForm) Render() app.UI {
	if !f.named {
		f.name = f.suggested()
	}
	full := f.Groups >= lab.MaxGroups
	return app.Form().Class("group-form").OnSubmit(f.add).Body(
		field("group.id", "The consumers sharing this group.id form the group",
			app.Input().ID("group-id").Type("text").Value(f.name).MaxLength(40).
				OnInput(func(ctx app.Context, e app.Event) { f.name, f.named = ctx.JSSrc().Get("value").String(), true })),
		field("partition.assignment.strategy", "The assignor the group's leader runs to split the partitions",
			app.Select().ID("group-assignor").
				OnChange(func(ctx app.Context, e app.Event) { f.assignor = ctx.JSSrc().Get("value").String() }).Body(
				app.Range(lab.Assignors).Slice(func(i int) app.UI {
					a := lab.Assignors[i]
					return app.Option().Value(a).Selected(a == f.assignor).Text(a)
				}),
			)),
		field("enable.auto.commit", "When the members commit their offsets: where the next owner of a partition starts after a rebalance or a crash",
			app.Select().ID("group-commit").
				OnChange(func(ctx app.Context, e app.Event) {
					v, _ := strconv.Atoi(ctx.JSSrc().Get("value").String())
					f.commit = client.CommitMode(v)
				}).Body(
				app.Range(commitChoices).Slice(func(i int) app.UI {
					c := commitChoices[i]
					return app.Option().Value(int(c.mode)).Selected(c.mode == f.commit).Text(c.label)
				}),
			)),
		field("processing", "How long the application takes to process one record: a member rejoins a rebalance only when it polls again",
			app.Select().ID("group-delay").
				OnChange(func(ctx app.Context, e app.Event) {
					f.delayMs, _ = strconv.ParseInt(ctx.JSSrc().Get("value").String(), 10, 64)
				}).Body(
				app.Range(delayChoices).Slice(func(i int) app.UI {
					d := delayChoices[i]
					return app.Option().Value(d).Selected(d == f.delayMs).Text(fmt.Sprintf("%d ms/record", d))
				}),
			)),
		field("session.timeout.ms", "How long the coordinator waits for a heartbeat before it removes a member (Kafka's default: 45000)",
			app.Select().ID("group-session").
				OnChange(func(ctx app.Context, e app.Event) {
					v, _ := strconv.Atoi(ctx.JSSrc().Get("value").String())
					f.session = int32(v)
				}).Body(
				app.Range(sessionChoices).Slice(func(i int) app.UI {
					s := sessionChoices[i]
					return app.Option().Value(s).Selected(s == f.session).Text(fmt.Sprint(s))
				}),
			)),
		field("members", "Consumers to start the group with",
			app.Select().ID("group-members").
				OnChange(func(ctx app.Context, e app.Event) { f.members, _ = strconv.Atoi(ctx.JSSrc().Get("value").String()) }).Body(
				app.Range(make([]struct{}, 3)).Slice(func(i int) app.UI {
					return app.Option().Value(i + 1).Selected(i+1 == f.members).Text(fmt.Sprint(i + 1))
				}),
			)),
		app.Button().ID("add-group").Type("submit").Disabled(full || !f.Ready).Text("Add group"),
		app.If(full, func() app.UI {
			return app.Span().Class("hint").Text(fmt.Sprintf("%d groups at most in this page", lab.MaxGroups))
		}),
		app.If(f.err != "", func() app.UI {
			return app.P().ID("group-error").Class("error").Text(f.err)
		}),
	)
}

// field is a form field under its config name.
func field(name, help string, input app.UI) app.UI {
	return app.Label().Class("field").Title("%s", help).Body(app.Span().Text(name), input)
}

func (f *GroupForm) add(ctx app.Context, e app.Event) {
	e.PreventDefault()
	err := f.Lab.AddGroup(lab.GroupConfig{Name: f.name, Assignor: f.assignor, Commit: f.commit,
		ProcessingDelayMs: f.delayMs, SessionTimeoutMs: f.session, Members: f.members})
	f.err = errText(err)
	if err == nil {
		f.named = false
	}
}
