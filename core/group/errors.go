package group

import "github.com/twmb/franz-go/pkg/kmsg"

// ErrorResponse answers a single-group request with one error for all of it,
// as Kafka does when the broker is not the group's coordinator
// (NOT_COORDINATOR) or the coordinator is not ready. It returns nil for
// other requests.
func ErrorResponse(req kmsg.Request, code int16) kmsg.Response {
	switch req := req.(type) {
	case *kmsg.JoinGroupRequest:
		return joinResponse(req, req.MemberID, code)
	case *kmsg.SyncGroupRequest:
		return syncResponse(req, code)
	case *kmsg.HeartbeatRequest:
		resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.LeaveGroupRequest:
		resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = code
		return resp
	case *kmsg.OffsetCommitRequest:
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				st.Partitions = append(st.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: rp.Partition, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	return nil
}
