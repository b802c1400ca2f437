#include "metric_help.h"

#include <map>

namespace etl {

std::string metricHelp(const std::string& name) {
  // Keyed by the registered name; the kind (counter, gauge, histogram) is the caller's. A new
  // metric without an entry still gets a generic HELP line, but the status tests ask for one here.
  static const std::map<std::string, std::string> kHelp{
      // The runner, per pipeline.
      {"records_in", "Records the source read."},
      {"records_out", "Records the sink stored (committed)."},
      {"dead_letters", "Records that became dead letters."},
      {"dead_letter_records", "Dead letters by the plugin that refused them and their stream."},
      {"stream_records", "Records stored, by stream."},
      {"retries", "Batches tried again after a retryable failure."},
      {"source_paused", "Times the source waited because the batch queue was full (backpressure)."},
      {"queue_batches", "Batches waiting between the source and the sink."},
      {"commit_yields",
       "Batches rolled back and written again to let an earlier batch commit first."},
      {"batch_write", "Time to write and commit one batch."},
      {"seconds_since_progress",
       "Seconds since the pipeline last committed a batch or found its source caught up."},
      {"seconds_since_commit", "Seconds since the pipeline last committed a batch."},
      // The shared HTTP client, per host and credential.
      {"http_budget_remaining", "Requests left in the current rate-limit window."},
      {"http_budget_limit", "Requests allowed per rate-limit window."},
      // file
      {"files_planned",
       "Files this run set out to read: matching the path and not read before, counted at start."},
      {"files_done", "Files read to their end."},
      {"files_damaged", "Damaged files skipped (on_corrupt: skip)."},
      {"source_lag_files", "Files still to read in this run."},
      // github_events, github_watch
      {"source_lag_seconds", "Age of the newest event the source has seen, in seconds."},
      {"github_requests", "Requests sent to the GitHub events API."},
      {"github_not_modified", "Requests answered 304 Not Modified (no quota spent)."},
      {"github_events_new", "Events not seen before."},
      {"github_gaps",
       "Polls that found no overlap with the events seen before: events were missed."},
      {"github_feeds", "Feeds on the watch list."},
      {"github_feeds_behind", "Feeds that fell behind (missed events, polled late) last report."},
      {"github_missed_events_estimate", "Events estimated missed since the last report."},
      // http_poll
      {"http_poll_requests", "Requests sent by the http_poll source (redirects included)."},
      {"http_poll_not_modified", "Polls answered 304 Not Modified: nothing new."},
      {"http_poll_records", "Records the http_poll source read."},
      // Transforms.
      {"push_events_parsed", "PushEvents parsed into push_events rows."},
      {"jq_outputs", "Records the jq program output."},
      {"jq_dropped", "Records for which the jq program output nothing."},
      {"jq_errors", "Records the jq program failed on (each a dead letter)."},
      {"enrich_completed", "Push events enriched."},
      {"enrich_failed", "Push events whose enrichment failed (retried later, up to max_attempts)."},
      {"enrich_gone", "Push events whose actor or repository is gone (404, 410, 451)."},
      {"enrich_pending", "Push events put back because the request budget was spent."},
      {"enrich_cache_hits", "Actors and repositories found fresh in the cache (no request)."},
      {"enrich_requests", "Requests sent for actors and repositories."},
      {"enrich_not_modified", "Enrichment requests answered 304 Not Modified."},
      // Sinks and the work queue.
      {"rows_stored", "Rows written, by table."},
      {"unmatched_dropped", "Records no table takes, dropped (unmatched: drop)."},
      {"claimed", "Rows claimed from the work queue."},
      {"queue_rows", "Rows of the work queue, by status."},
      // Kafka.
      {"kafka_consumer_lag", "Messages behind the end of the partition."},
      {"kafka_producer_queue", "Messages waiting for their delivery report."},
      {"kafka_delivery_errors", "Messages whose delivery failed."},
  };
  auto it = kHelp.find(name);
  return it == kHelp.end() ? std::string() : it->second;
}

}  // namespace etl
