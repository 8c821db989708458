package broker

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamlab/streamlab/core/storage"
)

// producerIDBlock is how many producer ids the broker reserves in the store at
// a time, as Kafka's controller hands out blocks of 1000
// (ProducerIdManager, KIP-730), so ids are never reused after a restart.
const producerIDBlock = 1000

const producerIDObject = "meta/producer-id-block"

// initProducerID gives an idempotent producer a new producer id with epoch 0:
// for a producer without a transactional.id Kafka always generates a fresh id
// (TransactionCoordinator.handleInitProducerId). Transactions are not
// implemented yet, so a transactional.id is refused.
func (n *Node) initProducerID(req *kmsg.InitProducerIDRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = n.fail("InitProducerId", "", -1, kerr.InvalidRequest)
		return resp
	}
	if n.nextProducerID >= n.producerIDLimit {
		n.producerIDLimit = n.nextProducerID + producerIDBlock
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(n.producerIDLimit))
		n.writes = append(n.writes, storage.Write{Op: storage.OpPut, Name: producerIDObject, Data: b[:]})
	}
	resp.ProducerID, resp.ProducerEpoch = n.nextProducerID, 0
	if n.cfg.KRaft {
		// In a cluster every broker hands out ids: Kafka's controller
		// gives each broker its own blocks (AllocateProducerIds, KIP-730);
		// Streamlab interleaves them by broker id instead, which keeps
		// them unique without a round trip to the controller.
		resp.ProducerID = n.nextProducerID*producerIDStride + int64(n.cfg.ID)
	}
	n.nextProducerID++
	return resp
}

// producerIDStride spaces the ids of a cluster's brokers: broker ids are
// below core.ClientIDBase (1000).
const producerIDStride = 1024

// openProducerIDs continues after the last reserved block, so that no id
// handed out before a crash is given again.
func (n *Node) openProducerIDs(store storage.Store) error {
	data, err := store.Read(producerIDObject)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return nil
	case err != nil:
		return err
	case len(data) != 8:
		return fmt.Errorf("corrupt %s: %d bytes, want 8", producerIDObject, len(data))
	}
	n.nextProducerID = int64(binary.BigEndian.Uint64(data))
	n.producerIDLimit = n.nextProducerID
	return nil
}
