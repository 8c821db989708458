package broker

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/streamlab/streamlab/core/partlog"
)

// topicConfig is a topic's configs as the broker enforces them.
type topicConfig struct {
	log               partlog.Config
	maxMessageBytes   int32
	minInsyncReplicas int32
	logAppendTime     bool  // message.timestamp.type=LogAppendTime
	afterMaxMs        int64 // message.timestamp.after.max.ms
	beforeMaxMs       int64 // message.timestamp.before.max.ms
	given             map[string]string
}

// enforced are the topic configs Streamlab implements, with Kafka's minimum
// values (LogConfig's ConfigDef). segment.bytes keeps Kafka 3.x's tiny minimum
// (14) so lessons can show segments roll after a few records.
var enforced = map[string]int64{
	"retention.ms":                    -1,
	"retention.bytes":                 -1,
	"segment.bytes":                   14,
	"segment.ms":                      1,
	"max.message.bytes":               0,
	"min.insync.replicas":             1,
	"message.timestamp.after.max.ms":  0,
	"message.timestamp.before.max.ms": 0,
}

// acceptedOnly are real Kafka topic configs that Streamlab stores and reports
// but does not act on yet; anything else is INVALID_CONFIG, as in Kafka.
var acceptedOnly = map[string]bool{
	"compression.type": true, "delete.retention.ms": true, "file.delete.delay.ms": true,
	"flush.messages": true, "flush.ms": true, "index.interval.bytes": true,
	"max.compaction.lag.ms": true, "min.cleanable.dirty.ratio": true, "min.compaction.lag.ms": true,
	"preallocate": true, "segment.index.bytes": true, "segment.jitter.ms": true,
	"unclean.leader.election.enable": true,
}

// parseTopicConfig validates configs given at creation against the broker's
// defaults; the error text is what CreateTopics returns with INVALID_CONFIG.
func parseTopicConfig(given map[string]string, b Config) (topicConfig, error) {
	tc := topicConfig{
		log:               b.Log,
		maxMessageBytes:   b.MessageMaxBytes,
		minInsyncReplicas: 1,
		afterMaxMs:        3600000,             // Kafka 4.0 default (KIP-1030)
		beforeMaxMs:       9223372036854775807, // Long.MAX_VALUE
		given:             given,
	}
	for k, v := range given {
		switch k {
		case "cleanup.policy":
			if v != "delete" {
				return tc, fmt.Errorf("cleanup.policy=%s: Streamlab implements only delete so far (compaction is not built yet)", v)
			}
			continue
		case "message.timestamp.type":
			switch v {
			case "CreateTime":
			case "LogAppendTime":
				tc.logAppendTime = true
			default:
				return tc, fmt.Errorf("Invalid value %s for configuration message.timestamp.type: String must be one of: CreateTime, LogAppendTime", v)
			}
			continue
		}
		lo, ok := enforced[k]
		if !ok {
			if acceptedOnly[k] {
				continue
			}
			return tc, fmt.Errorf("Unknown topic config name: %s", k)
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil || x < lo {
			return tc, fmt.Errorf("Invalid value %s for configuration %s: Value must be at least %d", v, k, lo)
		}
		switch k {
		case "retention.ms":
			tc.log.RetentionMs = x
		case "retention.bytes":
			tc.log.RetentionBytes = x
		case "segment.bytes":
			if x > 1<<31-1 {
				return tc, fmt.Errorf("Invalid value %s for configuration segment.bytes: Not a number of type INT", v)
			}
			tc.log.SegmentBytes = x
		case "segment.ms":
			tc.log.SegmentMs = x
		case "max.message.bytes":
			if x > 1<<31-1 {
				return tc, fmt.Errorf("Invalid value %s for configuration max.message.bytes: Not a number of type INT", v)
			}
			tc.maxMessageBytes = int32(x)
		case "min.insync.replicas":
			tc.minInsyncReplicas = int32(min(x, 1<<31-1))
		case "message.timestamp.after.max.ms":
			tc.afterMaxMs = x
		case "message.timestamp.before.max.ms":
			tc.beforeMaxMs = x
		}
	}
	return tc, nil
}

// effective lists every config with its value, for CreateTopics v5+ and the UI.
func (tc topicConfig) effective() map[string]string {
	ts := "CreateTime"
	if tc.logAppendTime {
		ts = "LogAppendTime"
	}
	m := map[string]string{
		"cleanup.policy":                  "delete",
		"retention.ms":                    strconv.FormatInt(tc.log.RetentionMs, 10),
		"retention.bytes":                 strconv.FormatInt(tc.log.RetentionBytes, 10),
		"segment.bytes":                   strconv.FormatInt(tc.log.SegmentBytes, 10),
		"segment.ms":                      strconv.FormatInt(tc.log.SegmentMs, 10),
		"max.message.bytes":               strconv.FormatInt(int64(tc.maxMessageBytes), 10),
		"min.insync.replicas":             strconv.FormatInt(int64(tc.minInsyncReplicas), 10),
		"message.timestamp.type":          ts,
		"message.timestamp.after.max.ms":  strconv.FormatInt(tc.afterMaxMs, 10),
		"message.timestamp.before.max.ms": strconv.FormatInt(tc.beforeMaxMs, 10),
	}
	for k, v := range tc.given {
		if acceptedOnly[k] {
			m[k] = v
		}
	}
	return m
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
