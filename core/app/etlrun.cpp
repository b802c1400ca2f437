// etlrun: runs the pipelines of a YAML file until stopped (or, with --once, until every source has
// nothing more right now); also validates files and lists plugins.
#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/PatternFormatter.h>
#include <Poco/StringTokenizer.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <functional>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "checkpoint_identity.h"
#include "etl/text.h"
#include "health.h"
#include "json_log_formatter.h"
#include "json_schema.h"
#include "pipeline_runner.h"
#include "pipeline_spec.h"
#include "plugin_loader.h"
#include "progress.h"
#include "quota_http_client.h"
#include "state_dir.h"
#include "status_server.h"
#include "stop_signals.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 64;     // EX_USAGE
constexpr int kExitSoftware = 70;  // EX_SOFTWARE: a pipeline failed
constexpr int kExitConfig = 78;    // EX_CONFIG
constexpr int kExitTempFail = 75;  // EX_TEMPFAIL: another process runs the pipeline (--once)

using Poco::Util::Option;

class EtlrunApp : public Poco::Util::ServerApplication {
 protected:
  void defineOptions(Poco::Util::OptionSet& options) override {
    ServerApplication::defineOptions(options);
    options.addOption(
        Option("help", "h", "show this help and exit")
            .callback(Poco::Util::OptionCallback<EtlrunApp>(this, &EtlrunApp::onHelp)));
    options.addOption(
        Option("version", "V", "print the version and exit")
            .callback(Poco::Util::OptionCallback<EtlrunApp>(this, &EtlrunApp::onVersion)));
    options.addOption(
        Option("once", "1", "run each source until it has nothing more now, then exit")
            .binding("etlrun.once"));
    options.addOption(
        Option("plugin-path", "p", "directories with plugins (colon-separated)")
            .argument("DIRS")
            .repeatable(true)
            .callback(Poco::Util::OptionCallback<EtlrunApp>(this, &EtlrunApp::onPluginPath)));
    options.addOption(Option("log-level", "l", "trace, debug, information, notice, warning, error")
                          .argument("LEVEL")
                          .binding("etlrun.logLevel"));
    options.addOption(Option("log-format", "", "text (default), or json: one object per line")
                          .argument("FORMAT")
                          .binding("etlrun.logFormat"));
    options.addOption(Option("state-dir", "s", "where checkpoints and dead letters are kept")
                          .argument("DIR")
                          .binding("etlrun.stateDir"));
    options.addOption(Option("http", "", "serve /metrics and /health on ADDRESS (127.0.0.1:9187)")
                          .argument("ADDRESS")
                          .binding("etlrun.http"));
    options.addOption(Option("stop-grace", "",
                             "how long a stop may drain in-flight batches before the process "
                             "ends anyway (default 4s; what is not committed is read again)")
                          .argument("DURATION")
                          .binding("etlrun.stopGrace"));
    // Filters of `etlrun dead-letters`.
    options.addOption(Option("pipeline", "", "dead-letters, checkpoint: only this pipeline")
                          .argument("NAME")
                          .binding("etlrun.dl.pipeline"));
    options.addOption(Option("plugin", "", "dead-letters: only those this plugin refused")
                          .argument("NAME")
                          .binding("etlrun.dl.plugin"));
    options.addOption(Option("reason", "", "dead-letters: only those whose reason contains TEXT")
                          .argument("TEXT")
                          .binding("etlrun.dl.reason"));
    options.addOption(Option("older-than", "", "dead-letters: only those older than DURATION (1h)")
                          .argument("DURATION")
                          .binding("etlrun.dl.olderThan"));
  }

  void onHelp(const std::string&, const std::string&) {
    Poco::Util::HelpFormatter help(options());
    help.setCommand("etlrun");
    help.setUsage(
        "[options] PIPELINE.yaml | validate PIPELINE.yaml | plugins [NAME] | schema | "
        "dead-letters PIPELINE.yaml [list | show ID | replay [ID] | purge [ID]] | "
        "checkpoint PIPELINE.yaml [show | adopt]");
    help.setHeader("Runs the ETL pipelines declared in a YAML file.");
    help.format(std::cout);
    exitEarly_ = true;
    stopOptionsProcessing();
  }
  void onVersion(const std::string&, const std::string&) {
    std::cout << "etlrun " ETLRUN_VERSION " (plugin ABI " << ETL_PLUGIN_ABI_VERSION << ")\n";
    exitEarly_ = true;
    stopOptionsProcessing();
  }
  void onPluginPath(const std::string&, const std::string& value) {
    Poco::StringTokenizer dirs(value, ":", Poco::StringTokenizer::TOK_IGNORE_EMPTY);
    for (const auto& dir : dirs) pluginPath_.push_back(dir);
  }

  void setUpLogging() {
    std::string kind = config().getString("etlrun.logFormat", "text");
    Poco::AutoPtr<Poco::Formatter> format;
    if (kind == "json") {
      jsonLog_ = new etl::JsonLogFormatter;
      format = jsonLog_;
    } else if (kind == "text") {
      format = new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p [%s] %t");
    } else {
      throw Poco::InvalidArgumentException("--log-format: expected text or json, got '" + kind +
                                           "'");
    }
    Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel(std::cerr));
    Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(format, console));
    std::string level = config().getString("etlrun.logLevel", "information");
    Poco::Logger::root().setChannel(channel);
    // Loggers made before this one (the application's own) write through it too: their lines
    // were in another format ("Uninitializing subsystem" at debug level, not JSON).
    Poco::Logger::setChannel("", channel);
    Poco::Logger::root().setLevel(level);
    Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
  }

  int main(const ArgVec& args) override {
    if (exitEarly_) return kExitOk;
    try {
      setUpLogging();
    } catch (const Poco::Exception& e) {
      std::cerr << "etlrun: bad --log-level or --log-format: " << e.displayText() << "\n";
      return kExitUsage;
    }
    // --plugin-path directories come first; the defaults (build tree, install) stay searched.
    for (const auto& dir : etl::PluginLoader::defaultSearchPath()) pluginPath_.push_back(dir);
    etl::PluginLoader loader(pluginPath_);
    if (args.empty()) {
      std::cerr << "usage: etlrun [options] PIPELINE.yaml | validate PIPELINE.yaml | plugins [NAME]"
                   " | schema (--help for more)\n";
      return kExitUsage;
    }
    if (args[0] == "plugins") return listPlugins(loader, args.size() > 1 ? args[1] : "");
    if (args[0] == "dead-letters") return deadLetters(args, loader);
    if (args[0] == "checkpoint") return checkpoint(args, loader);
    if (args[0] == "schema") {
      std::cout << etl::pipelineJsonSchema(loader);
      return kExitOk;
    }
    if (args[0] == "validate") {
      if (args.size() != 2) {
        std::cerr << "usage: etlrun validate PIPELINE.yaml\n";
        return kExitUsage;
      }
      auto file = load(args[1], loader);
      if (!file) return kExitConfig;
      std::cout << args[1] << ": OK, " << file->pipelines.size() << " pipeline(s)\n";
      return kExitOk;
    }
    if (args.size() != 1) {
      std::cerr << "etlrun: expected one pipeline file, got " << args.size() << " arguments\n";
      return kExitUsage;
    }
    auto file = load(args[0], loader);
    if (!file) return kExitConfig;
    return runPipelines(*file);
  }

  std::optional<etl::PipelineFile> load(const std::string& path, etl::PluginLoader& loader) {
    try {
      auto file = etl::loadPipelineFile(path, loader);
      if (jsonLog_) {
        std::set<std::string> names;
        for (const auto& spec : file.pipelines) names.insert(spec.name);
        jsonLog_->setPipelines(std::move(names));
      }
      return file;
    } catch (const etl::ConfigErrors& e) {
      std::string summary = std::to_string(e.errors().size()) + " error(s) in " + path;
      if (jsonLog_) {  // a log shipper reads stderr: every line JSON, mistakes included
        auto& logger = Poco::Logger::get("etlrun");
        for (const auto& error : e.errors()) logger.error(error);
        logger.critical(summary);
        return std::nullopt;
      }
      for (const auto& error : e.errors()) std::cerr << error << "\n";
      std::cerr << summary << "\n";
      return std::nullopt;
    }
  }

  int runPipelines(const etl::PipelineFile& file) {
    auto& logger = Poco::Logger::get("etlrun");
    etl::StopSignal stop;
    etl::Metrics metrics;
    std::string stateDir = config().getString("etlrun.stateDir", file.stateDir);
    // Before any plugin exists: a state directory that cannot be written is a configuration
    // problem, not something to find after the first batch went out.
    try {
      etl::checkStateDir(stateDir);
    } catch (const std::exception& e) {
      logger.critical(std::string("cannot start: ") + e.what());
      return kExitConfig;
    }
    etl::HttpClientOptions httpOptions;
    httpOptions.budgetFile = stateDir + "/http_budgets.json";
    etl::QuotaHttpClient http(etl::systemClock(), httpOptions);
    bool once = config().hasProperty("etlrun.once");
    std::chrono::milliseconds grace(4000);
    if (config().hasProperty("etlrun.stopGrace")) {
      std::string text = config().getString("etlrun.stopGrace");
      auto ms = etl::parseDuration(text);
      if (!ms || *ms <= etl::Millis(0)) {
        logger.critical("--stop-grace: expected a duration such as 4s or 500ms, got '" + text +
                        "'");
        return kExitUsage;
      }
      grace = *ms;
    }
    std::vector<std::unique_ptr<etl::PipelineRunner>> runners;
    try {
      for (const auto& spec : file.pipelines) {
        runners.push_back(std::make_unique<etl::PipelineRunner>(
            spec, etl::Services{etl::systemClock(), stop, metrics, http, stateDir, once}));
      }
    } catch (const etl::CheckpointError& e) {
      // The file is fine; the state it points at is not: a runtime failure, not a config error.
      logger.critical(std::string("cannot start: ") + e.what());
      return kExitSoftware;
    } catch (const std::exception& e) {
      logger.critical(std::string("cannot start: ") + e.what());
      return kExitConfig;
    }
    std::unique_ptr<etl::StatusServer> status;
    if (config().hasProperty("etlrun.http")) {
      try {
        // Gauges read at scrape time: each pipeline's freshness, each request budget.
        auto metricsText = [&metrics, &runners, &http] {
          auto now = etl::systemClock().now();
          for (const auto& r : runners) {
            metrics.gauge("seconds_since_progress", {{"pipeline", r->name()}})
                .store(std::chrono::duration_cast<std::chrono::seconds>(now - r->lastProgress())
                           .count());
            if (r->lastCommit() != etl::TimePoint{}) {
              metrics.gauge("seconds_since_commit", {{"pipeline", r->name()}})
                  .store(std::chrono::duration_cast<std::chrono::seconds>(now - r->lastCommit())
                             .count());
            }
          }
          for (const auto& [key, budget] : http.budgets()) {
            std::size_t bar = key.find('|');
            etl::Labels labels{{"host", key.substr(0, bar)}, {"credential", key.substr(bar + 1)}};
            metrics.gauge("http_budget_remaining", labels).store(budget.remaining);
            metrics.gauge("http_budget_limit", labels).store(budget.limit);
          }
          return metrics.prometheus();
        };
        status = std::make_unique<etl::StatusServer>(
            config().getString("etlrun.http"), metricsText, [&runners] {
              std::vector<const etl::PipelineRunner*> all;
              for (const auto& r : runners) all.push_back(r.get());
              return etl::healthReport(all, etl::systemClock().now());
            });
        logger.information("serving /metrics and /health on " + config().getString("etlrun.http"));
      } catch (const Poco::Exception& e) {
        logger.critical("cannot serve on " + config().getString("etlrun.http") + ": " +
                        e.displayText());
        return kExitUsage;
      }
    }
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t finished = 0;
    for (auto& runner : runners) {
      runner->start([&] {
        std::lock_guard<std::mutex> lock(mutex);
        ++finished;
        changed.notify_all();
      });
    }
    // On a terminal, one live line redrawn twice a second (files, records, rate, ETA); in a log
    // (stderr not a terminal) only the runners' lines every 10 s.
    std::atomic<bool> liveEnds{false};
    std::thread live;
    if (::isatty(STDERR_FILENO) && !jsonLog_) {  // JSON lines only, when they were asked for
      live = std::thread([&] {
        std::vector<std::unique_ptr<etl::ProgressMeter>> meters;
        for (const auto& r : runners) {
          meters.push_back(std::make_unique<etl::ProgressMeter>(metrics, r->name()));
        }
        while (!liveEnds && stop.waitUntil(etl::Clock_::now() + std::chrono::milliseconds(500))) {
          std::string text;
          for (auto& m : meters) text += (text.empty() ? "" : " | ") + m->line();
          std::cerr << "\r\033[K" << text << std::flush;
        }
        std::cerr << "\n";
      });
    }
    // Ends the wait below when every pipeline is done or one failed; a signal ends it as well.
    std::thread monitor([&] {
      std::unique_lock<std::mutex> lock(mutex);
      changed.wait(lock, [&] {
        bool anyFailed = false;
        for (auto& r : runners) anyFailed = anyFailed || r->failed();
        return finished == runners.size() || anyFailed || stop.requested();
      });
      if (!stop.requested()) etl::wakeForEnd();
    });
    int signal = etl::waitForStopSignal();
    if (signal) {
      logger.information("received " + etl::signalName(signal) +
                         ": stopping, draining in-flight batches (at most " +
                         std::to_string(grace.count()) + " ms; a second signal stops at once)");
    } else {
      logger.information("stopping: draining in-flight batches");
    }
    stop.request();
    // A drain held up by a peer that never answers ends with the process, at the latest here.
    etl::StopGrace graceEnds(grace, signal != 0, [&runners] {
      for (auto& r : runners) {
        if (r->failed()) return kExitSoftware;
      }
      return kExitTempFail;
    });
    {
      std::lock_guard<std::mutex> lock(mutex);
      changed.notify_all();
    }
    monitor.join();
    liveEnds = true;
    if (live.joinable()) live.join();
    bool failed = false, busy = false, refused = false;
    for (auto& runner : runners) {
      runner->join();
      failed = failed || runner->failed();
      busy = busy || runner->busy();
      refused = refused || runner->refused();
    }
    for (const auto& [name, value] : metrics.snapshot()) {
      logger.information("total " + name + " = " + std::to_string(value));
    }
    return refused ? kExitConfig : failed ? kExitSoftware : busy ? kExitTempFail : kExitOk;
  }

  // etlrun dead-letters FILE [list | show ID | replay [ID] | purge [ID]] with --pipeline, --plugin,
  // --reason, --older-than: the dead letters the file's sinks keep, and what to do with them.
  // For the tools (dead-letters, checkpoint): `work` on a runner, not started, of each pipeline
  // of `file` (or the one --pipeline names). Exit 0, 64 when no pipeline has that name, 70 when
  // the work failed (a database that cannot be reached says to try again).
  int eachPipeline(
      const etl::PipelineFile& file, const std::string& path,
      const std::function<void(const etl::PipelineSpec&, etl::PipelineRunner&)>& work) {
    std::string only = config().getString("etlrun.dl.pipeline", "");
    etl::StopSignal stop;
    etl::Metrics metrics;
    etl::QuotaHttpClient http(etl::systemClock());
    std::string stateDir = config().getString("etlrun.stateDir", file.stateDir);
    bool any = false;
    try {
      for (const auto& spec : file.pipelines) {
        if (!only.empty() && spec.name != only) continue;
        any = true;
        // As --once runs: a tool never waits for a pipeline's other process.
        etl::PipelineRunner runner(
            spec, etl::Services{etl::systemClock(), stop, metrics, http, stateDir, true});
        work(spec, runner);
      }
    } catch (const etl::RetryableError& e) {
      std::cerr << "etlrun: " << e.what() << " (try again)\n";
      return kExitSoftware;
    } catch (const std::exception& e) {
      std::cerr << "etlrun: " << e.what() << "\n";
      return kExitSoftware;
    }
    if (!any) {
      std::cerr << "etlrun: no pipeline named '" << only << "' in " << path << "\n";
      return kExitUsage;
    }
    return kExitOk;
  }

  // etlrun checkpoint FILE [show | adopt] [--pipeline=NAME]: each pipeline's stored checkpoint
  // and which pipeline wrote it; adopt takes it over for the pipeline the file now declares (a
  // pipeline refuses at start a checkpoint another one wrote).
  int checkpoint(const ArgVec& args, etl::PluginLoader& loader) {
    std::string action = args.size() > 2 ? args[2] : "show";
    if (args.size() < 2 || args.size() > 3 || (action != "show" && action != "adopt")) {
      std::cerr << "usage: etlrun checkpoint PIPELINE.yaml [show | adopt] [--pipeline=NAME]\n";
      return kExitUsage;
    }
    auto file = load(args[1], loader);
    if (!file) return kExitConfig;
    bool foreign = false;
    std::string stateDir = config().getString("etlrun.stateDir", file->stateDir);
    int code = eachPipeline(
        *file, args[1], [&](const etl::PipelineSpec& spec, etl::PipelineRunner& runner) {
          if (action == "adopt") {
            std::cout << spec.name << ": " << runner.adoptCheckpoint() << "\n";
            return;
          }
          auto view = runner.checkpointView();
          std::cout << spec.name << ": " << view.where << "\n";
          if (view.stored.empty()) {
            std::cout << "  no checkpoint: the pipeline starts from the beginning\n";
            return;
          }
          bool ours = !view.identity || etl::sameIdentity(*view.identity, view.ours);
          foreign = foreign || !ours;
          std::cout << "  written by: "
                    << (view.identity ? etl::describeIdentity(*view.identity)
                                      : "not recorded (an earlier etlrun)")
                    << (ours ? ""
                             : "\n  NOT this pipeline, " + etl::describeIdentity(view.ours) +
                                   ": it refuses to start from it; `etlrun checkpoint " + args[1] +
                                   " adopt --pipeline=" + spec.name + " --state-dir=" + stateDir +
                                   "` takes it over")
                    << "\n  position:   " << etl::storableText(view.position) << "\n";
        });
    return code == kExitOk && foreign ? kExitConfig : code;
  }

  int deadLetters(const ArgVec& args, etl::PluginLoader& loader) {
    std::string action = args.size() > 2 ? args[2] : "list";
    bool wantsId = action == "show";
    bool takesId = wantsId || action == "replay" || action == "purge";
    if (args.size() < 2 || (action != "list" && !takesId) || args.size() > (takesId ? 4u : 3u) ||
        (wantsId && args.size() != 4)) {
      std::cerr << "usage: etlrun dead-letters PIPELINE.yaml [list | show ID | replay [ID] | "
                   "purge [ID]] [--pipeline=NAME] [--plugin=NAME] [--reason=TEXT] "
                   "[--older-than=DURATION]\n";
      return kExitUsage;
    }
    auto file = load(args[1], loader);
    if (!file) return kExitConfig;
    etl::DeadLetterFilter filter;
    filter.plugin = config().getString("etlrun.dl.plugin", "");
    filter.reasonContains = config().getString("etlrun.dl.reason", "");
    if (args.size() == 4) {
      // Only a positive whole number names a letter: anything else (abc, 0, "", 1e3) would
      // otherwise read as 0, "every letter", and a purge would delete them all.
      const std::string& id = args[3];
      bool digits = !id.empty() && id.size() <= 18 &&
                    std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
      filter.id = digits ? std::stoll(id) : 0;
      if (filter.id <= 0) {
        std::cerr << "etlrun: a dead-letter ID is a positive whole number (as `list` shows it), "
                     "got '"
                  << id << "': nothing was " << (action == "show" ? "shown" : action + "d") << "\n";
        return kExitUsage;
      }
    }
    if (config().hasProperty("etlrun.dl.olderThan")) {
      std::string text = config().getString("etlrun.dl.olderThan");
      auto ms = etl::parseDuration(text);
      if (!ms) {
        std::cerr << "etlrun: --older-than wants a duration like 30m or 2d, got '" << text << "'\n";
        return kExitUsage;
      }
      filter.createdBefore = etl::isoTime(etl::systemClock().now() - *ms);
    }
    return eachPipeline(
        *file, args[1], [&](const etl::PipelineSpec& spec, etl::PipelineRunner& runner) {
          if (action == "list" || action == "show") {
            for (const auto& l : runner.deadLetters(filter)) {
              // One letter a line: the reason's own line breaks become spaces.
              std::string reason = etl::storableText(l.reason);
              std::replace(reason.begin(), reason.end(), '\n', ' ');
              std::cout << l.id << "\t" << l.createdAt << "\t" << l.pipeline << "\t" << l.plugin
                        << "\t" << l.stream << "\t" << reason << "\n";
              if (action == "show") std::cout << etl::storableText(l.record) << "\n";
            }
          } else if (action == "replay") {
            auto r = runner.replay(filter);
            std::cout << spec.name << ": replayed " << r.replayed << ", stored and removed "
                      << r.removed << ", still dead " << r.stillDead << "\n";
          } else {
            std::cout << spec.name << ": purged " << runner.purge(filter) << "\n";
          }
        });
  }

  // Each key with its type, default, limits and description; a nested mapping's keys beneath it.
  static void printKeys(const etl::ConfigField* fields, const char* const* identity,
                        const std::string& indent) {
    for (const auto* f = fields; f && f->key; ++f) {
      std::cout << indent << f->key << " (" << etl::typeName(f->type) << ", "
                << (f->required ? "required"
                    : f->defaultValue
                        ? std::string("default: ") + (*f->defaultValue ? f->defaultValue : "\"\"")
                        : std::string("optional"))
                << (f->choices ? std::string(", one of ") + f->choices : "")
                << (f->min ? std::string(", at least ") + f->min : "")
                << (f->max ? std::string(", at most ") + f->max : "") << ")\n"
                << indent << "    " << f->description
                << (etl::isIdentityKey(identity, f->key)
                        ? "\n" + indent + "    " + etl::kIdentityKeyNote
                        : std::string())
                << "\n";
      if (f->entries) {
        std::cout << indent << "    each entry"
                  << (f->shorthand ? std::string(" (or a plain string: its ") + f->shorthand + ")"
                                   : std::string())
                  << ":\n";
        printKeys(f->entries, nullptr, indent + "      ");
      }
    }
  }

  int listPlugins(etl::PluginLoader& loader, const std::string& only) {
    if (!only.empty()) {
      try {
        const auto& d = loader.load(only);
        std::cout << d.name << " (" << etl::kindName(d.kind) << ", version " << d.version << ")\n  "
                  << d.description << "\n  file: " << loader.pathOf(only) << "\n\nconfiguration:\n";
        std::cout << "  plugin: " << d.name << "\n";
        printKeys(d.schema, d.identity, "  ");
        return kExitOk;
      } catch (const etl::PluginError& e) {
        std::cerr << "etlrun: " << e.what() << "\n";
        return kExitConfig;
      }
    }
    for (const auto& name : loader.available()) {
      try {
        const auto& d = loader.load(name);
        std::cout << std::left << std::setw(20) << name << std::setw(11) << etl::kindName(d.kind)
                  << std::setw(9) << d.version << d.description << "\n";
      } catch (const etl::PluginError& e) {
        std::cout << std::left << std::setw(20) << name << "REFUSED: " << e.what() << "\n";
      }
    }
    return kExitOk;
  }

 private:
  bool exitEarly_ = false;
  std::vector<std::string> pluginPath_;
  Poco::AutoPtr<etl::JsonLogFormatter> jsonLog_;  // with --log-format=json
};

}  // namespace

int main(int argc, char** argv) {
  // Stop signals are taken by the main thread only (stop_signals.h): block them before any thread
  // exists so that no pipeline thread is killed by their default action.
  etl::blockStopSignals();
  // `dead-letters F purge -1` must not read as `purge --once` (-1 is its short form), which
  // purges every letter: an ID that looks negative is a usage error before options are read.
  bool deadLetters = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    deadLetters = deadLetters || arg == "dead-letters";
    if (deadLetters && arg.size() > 1 && arg[0] == '-' &&
        std::isdigit(static_cast<unsigned char>(arg[1]))) {
      std::cerr << "etlrun: a dead-letter ID is a positive whole number (as `list` shows it), got '"
                << arg << "': nothing was done\n";
      return kExitUsage;
    }
  }
  EtlrunApp app;
  if (std::find(argv + 1, argv + argc, std::string("--daemon")) != argv + argc) {
    return app.run(argc, argv);  // Poco's own path: it forks before reading the options
  }
  // An unknown option is a usage error (64), not a configuration error (Poco's 78).
  try {
    app.init(argc, argv);
  } catch (const Poco::Util::OptionException& e) {
    std::cerr << "etlrun: " << e.displayText() << " (etlrun --help lists the options)\n";
    return kExitUsage;
  }
  return static_cast<Poco::Util::Application&>(app).run();  // (ServerApplication hides it)
}
