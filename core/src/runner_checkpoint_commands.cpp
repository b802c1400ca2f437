// `etlrun checkpoint FILE show|adopt`: the stored checkpoint of a pipeline that is not running,
// and taking it over for a pipeline whose identity changed on purpose (checkpoint_identity.h).
#include "checkpoint_identity.h"
#include "commit_order.h"
#include "pipeline_runner.h"
#include "state_files.h"

namespace etl {

namespace {

std::string readStored(Sink& sink, const Services& services, const std::string& pipeline) {
  if (sink.commitsCheckpoints()) return sink.committedCheckpoint();
  return CheckpointFile(services.stateDir, pipeline).load();
}

}  // namespace

PipelineRunner::CheckpointView PipelineRunner::checkpointView() {
  CheckpointView view;
  view.stored = readStored(sink(), services_, spec_.name);
  view.where = checkpointLocation().where;
  StoredCheckpoint split = splitCheckpoint(view.stored, source_->partitionedCheckpoint());
  view.identity = split.identity;
  view.position = split.position;
  view.ours = identity_;
  return view;
}

std::string PipelineRunner::adoptCheckpoint() {
  // A running process would overwrite what is written here, or be fenced by it.
  if (!ownerLock_) ownerLock_ = std::make_unique<OwnerLock>(services_.stateDir, spec_.name);
  std::string holder = ownerLock_->take();
  if (holder.empty()) holder = sink().claim(spec_.name);
  if (!holder.empty()) {
    throw std::runtime_error("pipeline '" + spec_.name + "' is running in another process (" +
                             holder + "): stop it, then adopt its checkpoint");
  }
  CheckpointView view = checkpointView();
  if (view.stored.empty()) return "has no checkpoint: nothing to adopt";
  if (view.identity && sameIdentity(*view.identity, identity_)) {
    return "its checkpoint is already this pipeline's, " + describeIdentity(identity_);
  }
  const bool parts = source_->partitionedCheckpoint();
  std::string stamped = stampCheckpoint(identity_, view.position, parts);
  if (sink().commitsCheckpoints()) {
    // A batch with no records: the checkpoint moves the way every batch moves it, compare-and-set
    // against what was read above.
    Batch batch;
    batch.checkpoint = stamped;
    batch.checkpointParts = parts;
    batch.previousCheckpoint = view.stored;
    CommitOrder order;
    CommitOrder::Turn turn(order, 1);
    batch.turn = &turn;
    sink().write(batch);
  } else {
    CheckpointFile(services_.stateDir, spec_.name).save(stamped);
  }
  std::string was = view.identity ? "written by " + describeIdentity(*view.identity)
                                  : "written before etlrun recorded who wrote it";
  logger_.information("checkpoint adopted: " + was + ", now " + describeIdentity(identity_));
  return "checkpoint (" + view.where + ") taken over: it was " + was +
         "; it is now this pipeline's, " + describeIdentity(identity_) + ", at the same position";
}

}  // namespace etl
