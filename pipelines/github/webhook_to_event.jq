# A GitHub webhook delivery ({delivery, event, received_at, payload}, from http_listen's github
# mode) in the shape of the events API, so that github.yaml's tables and push_event_parser take
# it as they take polled events. Deliveries of other kinds (ping, check runs, ...) are dropped.
def event_type:
  {"push": "PushEvent", "create": "CreateEvent", "delete": "DeleteEvent", "fork": "ForkEvent",
   "watch": "WatchEvent", "issues": "IssuesEvent", "issue_comment": "IssueCommentEvent",
   "pull_request": "PullRequestEvent", "pull_request_review": "PullRequestReviewEvent",
   "pull_request_review_comment": "PullRequestReviewCommentEvent", "release": "ReleaseEvent",
   "public": "PublicEvent", "member": "MemberEvent", "gollum": "GollumEvent",
   "commit_comment": "CommitCommentEvent"}[.event];

# Webhooks carry no push_id: one from the delivery's id (its first 13 hex digits, 52 bits),
# negative so that it never meets the events API's (positive) ones.
def delivery_number:
  gsub("-"; "") | .[0:13] | ascii_downcase | explode
  | reduce .[] as $c (0; . * 16 + (if $c >= 97 then $c - 87 else $c - 48 end));

select(event_type != null and .payload.repository != null)
| .payload as $p
| {
    id: ("webhook-" + .delivery),
    type: event_type,
    actor: {id: $p.sender.id, login: $p.sender.login},
    repo: {id: $p.repository.id, name: $p.repository.full_name},
    public: ($p.repository.private | not),
    created_at: .received_at,
    payload: (
      if .event == "push" then
        {push_id: (0 - (.delivery | delivery_number)),
         size: ($p.commits | length),
         distinct_size: ([$p.commits[] | select(.distinct)] | length),
         ref: $p.ref, head: $p.after, before: $p.before,
         commits: [$p.commits[] | {sha: .id, author: {email: .author.email, name: .author.name},
                                   message, distinct, url}]}
      else $p
      end)
  }
