package ui

import (
	"fmt"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/streamlab/streamlab/core/broker"
)

// PartitionLane draws one partition's log as the broker holds it: offsets,
// keys and values, the log start offset, the high watermark and the segments.
type PartitionLane struct {
	app.Compo
	Info    broker.PartitionInfo
	Records []broker.StoredRecord
}

// Render draws the lane.
func (l *PartitionLane) Render() app.UI {
	i := l.Info
	return app.Div().Class("lane card").DataSet("partition", i.Partition).Body(
		app.H3().Text(fmt.Sprintf("Partition %d", i.Partition)),
		app.P().Class("offsets").Body(
			app.Span().Title("First offset still in the log (retention moves it)").Text(fmt.Sprintf("log start %d", i.LogStartOffset)),
			app.Span().Title("Consumers read below the high watermark").Text(fmt.Sprintf(" · high watermark %d", i.HighWatermark)),
			app.Span().Title("Offset the next record will get").Text(fmt.Sprintf(" · log end %d", i.LogEndOffset)),
			app.Span().Text(fmt.Sprintf(" · %d segment(s), %d bytes", len(i.Segments), i.Bytes)),
		),
		app.If(len(l.Records) == 0, func() app.UI {
			return app.P().Class("empty").Text("empty")
		}),
		app.Ol().Class("log").Body(
			app.Range(l.Records).Slice(func(j int) app.UI {
				r := l.Records[j]
				return app.Li().Class("record").
					DataSet("partition", i.Partition).DataSet("offset", r.Offset).DataSet("key", string(r.Key)).
					Title(fmt.Sprintf("offset %d, timestamp %d", r.Offset, r.Timestamp)).Body(
					app.Span().Class("offset").Text(r.Offset),
					app.Span().Class("key").Text(showBytes(r.Key)),
					app.Span().Class("value").Text(showBytes(r.Value)),
				)
			}),
		),
	)
}

func showBytes(b []byte) string {
	if b == nil {
		return "null"
	}
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
