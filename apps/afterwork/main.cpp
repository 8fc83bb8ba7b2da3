// SPDX-License-Identifier: MIT
// The `afterwork` command: `serve` runs the reference service.

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <tuple>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <afterwork/http/app.hpp>
#include <afterwork/schedule/time_zone.hpp>

#include "cron_command.hpp"
#include "jobs_command.hpp"
#include "reference_service.hpp"
#include "worker_command.hpp"

namespace {

int serve(const afterwork::ServeOptions& options,
          const afterwork::apps::ReferenceOptions& reference) {
    afterwork::App app;
    try {
        afterwork::apps::build_reference_service(app, reference);
        app.start(options);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
    const auto base = fmt::format("http://{}:{}", options.host, app.port());
    std::cout << "afterwork serving on " << base << "\n"
              << "  POST " << base << "/send-notification/{email}[?delay=SECONDS]\n"
              << "  POST " << base << "/signup   {\"email\",\"name\",\"source\"?}\n"
              << "  POST " << base << "/reports/generate?seconds=N\n"
              << "  GET  " << base << "/reports/{job_id}/status\n"
              << "  DEL  " << base << "/reports/{job_id}\n"
              << "  GET  " << base << "/tasks\n"
              << "  POST " << base << "/exports?seconds=N\n"
              << "  GET  " << base << "/exports/{id}\n"
              << "  DEL  " << base << "/exports/{id}\n"
              << "  GET  " << base << "/afterwork/api/jobs\n"
              << "  GET  " << base << "/jobs\n"
              << "  GET  " << base << "/schedules\n"
              << "  GET  " << base << "/healthz\n"
              << "  GET  " << base << "/metrics\n"
              << "Press Ctrl-C to stop." << std::endl;
    app.wait();
    app.stop();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"afterwork: background work for HTTP services"};
    cli.set_version_flag("--version", "afterwork 0.1.0");
    cli.require_subcommand(1);
    std::string log_level = "info";
    cli.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));

    afterwork::ServeOptions options;
    std::string data_dir = "./var";
    double drain_seconds = 30;
    auto* serve_command = cli.add_subcommand("serve", "Run the reference service");
    serve_command->fallthrough();  // `afterwork serve --log-level warn` works too
    serve_command->add_option("--host", options.host, "Address to listen on")
        ->capture_default_str();
    serve_command->add_option("--port", options.port, "Port to listen on (0: any free port)")
        ->capture_default_str();
    serve_command->add_option("--data-dir", data_dir, "Folder for the files the tasks write")
        ->capture_default_str();
    serve_command->add_option("--threads", options.threads, "Event loops (0: one per core)")
        ->capture_default_str()
        ->check(CLI::Range(0u, 1024u));
    serve_command
        ->add_option("--drain-timeout", drain_seconds,
                     "Seconds background tasks get to finish at shutdown")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 86400.0));
    serve_command
        ->add_option("--max-body-bytes", options.limits.max_body_bytes, "Largest request body")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 34));
    serve_command
        ->add_option("--max-connections", options.limits.max_connections,
                     "Open connections before new ones get 503")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
    serve_command
        ->add_option("--max-header-bytes", options.limits.max_header_bytes,
                     "Largest request line + headers (more: 431)")
        ->capture_default_str()
        ->check(CLI::Range(std::size_t{256}, std::size_t{1} << 24));
    double header_timeout = 10;
    double idle_timeout = 60;
    serve_command
        ->add_option("--header-timeout", header_timeout,
                     "Seconds a client gets to send a request's headers")
        ->capture_default_str()
        ->check(CLI::Range(0.001, 3600.0));
    serve_command
        ->add_option("--idle-timeout", idle_timeout,
                     "Seconds an idle keep-alive connection stays open")
        ->capture_default_str()
        ->check(CLI::Range(0.001, 86400.0));

    afterwork::apps::CronCommand cron_command(cli);  // afterwork cron next|explain
    afterwork::apps::JobsCommand jobs_command(cli);  // afterwork jobs ls|show|enqueue|...
    afterwork::apps::WorkerCommand worker_command(cli);  // afterwork worker

    double session_cleanup = 300, exchange_rates = 3600, analytics = 3600, cache_warm = 300;
    double report_ttl = 3600;
    for (auto [flag, value, what] :
         {std::tuple{"--session-cleanup-interval", &session_cleanup, "session clean-up"},
          std::tuple{"--exchange-rates-interval", &exchange_rates, "exchange-rate refresh"},
          std::tuple{"--analytics-interval", &analytics, "analytics aggregation"},
          std::tuple{"--cache-warm-interval", &cache_warm, "cache warmer's pause"}}) {
        serve_command
            ->add_option(flag, *value, std::string("Seconds between runs of the ") + what)
            ->capture_default_str()
            ->check(CLI::Range(0.001, 31'536'000.0));
    }
    double job_lease = 30;
    serve_command
        ->add_option("--job-lease", job_lease,
                     "Seconds a running durable job is leased: after a crash it runs again "
                     "once its lease ends")
        ->capture_default_str()
        ->check(CLI::Range(0.5, 86400.0));
    std::string cron_tz = "Asia/Kolkata";
    serve_command
        ->add_option("--cron-tz", cron_tz,
                     "IANA time zone of the daily digest, hourly clean-up and weekly report")
        ->capture_default_str()
        ->check(CLI::Validator(
            [](std::string& zone) {
                auto located = afterwork::TimeZone::try_locate(zone);
                return located ? std::string() : std::string(located.error().what());
            },
            "ZONE"));
    serve_command
        ->add_option("--report-ttl", report_ttl,
                     "Seconds a finished report job stays visible")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 31'536'000.0));

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // --help and --version exit 0; a usage error exits 2, as command-line tools do.
        return cli.exit(e) == 0 ? 0 : 2;
    }
    // Logs go to stderr, as a server's do; stdout carries what the command prints for people
    // and scripts (the URLs it serves).
    spdlog::set_default_logger(spdlog::stderr_color_mt("afterwork"));
    spdlog::set_level(spdlog::level::from_str(log_level));

    if (cron_command.parsed()) return cron_command.run();
    if (jobs_command.parsed()) return jobs_command.run();
    if (worker_command.parsed()) return worker_command.run();
    if (serve_command->parsed()) {
        auto to_ms = [](double seconds) {
            return std::chrono::milliseconds(std::llround(seconds * 1000));
        };
        options.drain_timeout = to_ms(drain_seconds);
        options.limits.header_timeout = to_ms(header_timeout);
        options.limits.idle_timeout = to_ms(idle_timeout);
        afterwork::apps::ReferenceOptions reference;
        reference.data_dir = data_dir;
        reference.session_cleanup_interval = to_ms(session_cleanup);
        reference.exchange_rates_interval = to_ms(exchange_rates);
        reference.analytics_interval = to_ms(analytics);
        reference.cache_warm_interval = to_ms(cache_warm);
        reference.report_ttl = to_ms(report_ttl);
        reference.cron_time_zone = cron_tz;
        reference.job_lease = to_ms(job_lease);
        return serve(options, reference);
    }
    return EXIT_FAILURE;
}
