// The order in which batches written in parallel commit: batch n commits only once batches 1..n-1
// have, so the checkpoint each commit carries covers only committed batches, and after kill -9 the
// source resumes exactly after the last committed batch (nothing replayed, nothing skipped).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "etl/batch.h"

namespace etl {

class CommitOrder {
 public:
  // `yields` counts the waits that returned false (an earlier batch needed this one's rows).
  explicit CommitOrder(std::atomic<int64_t>* yields = nullptr) : yields_(yields) {}

  // Batch numbers start at 1 and are handed out in the order the batches were read.
  // Blocks until `seq` is next to commit. Returns false when `blocking` (asked every few ms with
  // the holders of the earlier open batches) returned true. Throws StoppedError once an earlier
  // batch will not commit (stopFrom).
  bool wait(uint64_t seq, const CommitTurn::Blocking& blocking);
  void hold(uint64_t seq, std::string holder);
  // `seq` committed: the next one may.
  void committed(uint64_t seq);
  // Blocks until batch `seq` has committed (true), or will not (false).
  bool awaitCommitted(uint64_t seq);
  // Batches from `seq` on must not commit (it failed, or the pipeline stops while it waits to be
  // retried): their waits throw StoppedError. Earlier batches go on.
  void stopFrom(uint64_t seq);

  // The CommitTurn a sink sees for batch `seq`.
  class Turn : public CommitTurn {
   public:
    Turn(CommitOrder& order, uint64_t seq) : order_(order), seq_(seq) {}
    bool wait(const Blocking& blocking) override { return order_.wait(seq_, blocking); }
    void hold(std::string holder) override { order_.hold(seq_, std::move(holder)); }

   private:
    CommitOrder& order_;
    uint64_t seq_;
  };

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t next_ = 1;             // the batch that may commit now
  uint64_t stopAt_ = UINT64_MAX;  // batches from here on never commit
  std::map<uint64_t, std::string> holders_;
  std::atomic<int64_t>* yields_;
};

}  // namespace etl
