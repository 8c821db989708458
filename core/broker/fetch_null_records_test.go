package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka never sends a null records field in a Fetch response: it answers an
// empty one (MemoryRecords.EMPTY; FetchResponse.partitionResponse). librdkafka
// rejects a null one ("invalid MessageSetSize -1"), so kcat -C stalled at the
// end of a partition; kgo and sarama accept both.
func TestFetchNeverSendsNullRecords(t *testing.T) {
	h := newHarness(t, nil)
	h.createTopic("t", 1, nil)
	req := fetchReq("t", 0, 0, 1<<20)
	req.Version = 11
	req.Topics = append(req.Topics, kmsg.FetchRequestTopic{Topic: "missing", Partitions: req.Topics[0].Partitions})
	resp := h.do(req).(*kmsg.FetchResponse)
	for _, st := range resp.Topics {
		for _, sp := range st.Partitions {
			if sp.RecordBatches == nil {
				t.Errorf("%s-%d (error %s): null records; Kafka sends an empty records field", st.Topic, sp.Partition, errName(sp.ErrorCode))
			}
		}
	}
}
