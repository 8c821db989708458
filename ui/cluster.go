package ui

import (
	"fmt"
	"strings"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/lab"
)

// Cluster draws the brokers side by side, each with the replicas it holds,
// under a line saying who the active controller is.
type Cluster struct {
	app.Compo
	Lab *lab.Lab
	// Version is the lab's Version: go-app redraws a child only when one
	// of its exported fields changes, and what this shows changes only
	// with notable events.
	Version uint64
}

// Render draws the cluster.
func (c *Cluster) Render() app.UI {
	l := c.Lab
	brokers := l.Brokers()
	parts := l.PartitionViews()
	active, epoch := l.ActiveController()
	voters := make([]string, 0, 3)
	for _, v := range l.Voters() {
		voters = append(voters, fmt.Sprint(v))
	}
	ctl := "no active controller: the voters are electing one"
	if active >= 0 {
		ctl = fmt.Sprintf("active controller: broker %d (controller epoch %d)", active, epoch)
	}
	return app.Section().Class("cluster card").ID("cluster").Body(
		app.Div().Class("section-head").Body(
			app.H2().Text("Brokers"),
			app.Span().ID("controller-summary").Class("hint").DataSet("active", int(active)).
				Text(fmt.Sprintf("%s · voters (controller.quorum.voters): %s · metadata log offset %d",
					ctl, strings.Join(voters, ", "), l.MetadataOffset())),
		),
		logLegend(),
		app.Div().Class("brokers").Body(
			app.Range(brokers).Slice(func(i int) app.UI {
				return &BrokerCard{Lab: l, Version: c.Version, View: brokers[i], Parts: parts}
			}),
		),
	)
}

// logLegend explains a replica row's cells (ReplicaRow).
func logLegend() app.UI {
	return app.P().Class("legend hint").Body(
		app.Span().Class("legend-cell committed").Text("3"),
		app.Text("committed record (on every in-sync replica; consumers may read it)"),
		app.Span().Class("legend-cell uncommitted").Text("4"),
		app.Text("not yet committed"),
		app.Span().Class("hw-mark legend-mark"),
		app.Text("high watermark (HW)"),
		app.Span().Class("leo legend-cell"),
		app.Text("log end offset (LEO), where the next record goes. Colour = key."),
	)
}
