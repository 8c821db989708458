package broker

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

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
	"delete.retention.ms":             0,
	"min.compaction.lag.ms":           0,
	"max.compaction.lag.ms":           1,
}

// acceptedOnly are real Kafka topic configs that Streamlab stores and reports
// but does not act on yet; anything else is INVALID_CONFIG, as in Kafka.
var acceptedOnly = map[string]bool{
	"compression.type": true, "file.delete.delay.ms": true,
	"flush.messages": true, "flush.ms": true, "index.interval.bytes": true,
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
			p, err := parsePolicy(v)
			if err != nil {
				return tc, err
			}
			tc.log.CleanupPolicy = p
			continue
		case "min.cleanable.dirty.ratio":
			// A DOUBLE in [0, 1] (LogConfig: between(0, 1)).
			x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			switch {
			case err != nil || math.IsNaN(x):
				return tc, fmt.Errorf("Invalid value %s for configuration %s: Not a number of type DOUBLE", v, k)
			case x < 0:
				return tc, fmt.Errorf("Invalid value %s for configuration %s: Value must be at least 0", v, k)
			case x > 1:
				return tc, fmt.Errorf("Invalid value %s for configuration %s: Value must be no more than 1", v, k)
			}
			tc.log.MinCleanableDirtyRatio = x
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
		case "delete.retention.ms":
			tc.log.DeleteRetentionMs = x
		case "min.compaction.lag.ms":
			tc.log.MinCompactionLagMs = x
		case "max.compaction.lag.ms":
			tc.log.MaxCompactionLagMs = x
		}
	}
	if lo, hi := tc.log.MinCompactionLagMs, tc.log.MaxCompactionLagMs; lo > hi {
		// LogConfig.validateValues.
		return tc, fmt.Errorf("conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", lo, hi)
	}
	return tc, nil
}

// parsePolicy reads cleanup.policy, a LIST of compact and delete
// (LogConfig: ValidList.in("compact", "delete")); ConfigDef splits lists at
// commas and trims the items.
func parsePolicy(v string) (partlog.Policy, error) {
	var p partlog.Policy
	for item := range strings.SplitSeq(v, ",") {
		switch strings.TrimSpace(item) {
		case "compact":
			p |= partlog.Compact
		case "delete":
			p |= partlog.Delete
		default:
			return 0, fmt.Errorf("Invalid value %s for configuration cleanup.policy: String must be one of: compact, delete", strings.TrimSpace(item))
		}
	}
	return p, nil
}

// formatDouble prints a DOUBLE config as Java's Double.toString does for
// ordinary values ("0.5", "1.0").
func formatDouble(x float64) string {
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEnN") {
		s += ".0"
	}
	return s
}

// effective lists every config with its value, for CreateTopics v5+ and the UI.
func (tc topicConfig) effective() map[string]string {
	ts := "CreateTime"
	if tc.logAppendTime {
		ts = "LogAppendTime"
	}
	m := map[string]string{
		"cleanup.policy":                  tc.log.CleanupPolicy.String(),
		"min.cleanable.dirty.ratio":       formatDouble(tc.log.MinCleanableDirtyRatio),
		"delete.retention.ms":             strconv.FormatInt(tc.log.DeleteRetentionMs, 10),
		"min.compaction.lag.ms":           strconv.FormatInt(tc.log.MinCompactionLagMs, 10),
		"max.compaction.lag.ms":           strconv.FormatInt(tc.log.MaxCompactionLagMs, 10),
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
