// SPDX-License-Identifier: MIT
#include <afterwork/jobs/job_context.hpp>

#include <cmath>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include <afterwork/runtime/cancellation.hpp>
#include <afterwork/runtime/offload.hpp>
#include <afterwork/runtime/sleep.hpp>

#include "jobs/progress.hpp"

namespace afterwork {

namespace detail {

void ProgressChannel::set(double fraction, std::string message) {
    bool start = false;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        pending_ = ProgressValue{fraction, std::move(message)};
        if (!writing_) {
            writing_ = true;
            start = true;
        }
    }
    if (!start) return;
    // Spawned outside the lock: spawn may run the writer inline on this thread's loop.
    auto writer = spawn(sink_->executor, progress_writer(shared_from_this()),
                        SpawnOptions{.name = "job progress"});
    std::lock_guard lock(mutex_);
    writer_ = std::move(writer);
}

void ProgressChannel::write(const ProgressValue& value) const {
    // lease_lost / not_found: the attempt ended meanwhile; nothing to tell anyone.
    auto written = sink_->store->set_progress(id_, sink_->worker_id, value.fraction, value.message);
    if (!written && is_storage_error(written.error().code())) {
        spdlog::warn("job {}: progress not saved: {}", id_, written.error().what());
    }
}

namespace {
void write_progress(std::shared_ptr<ProgressChannel> channel, ProgressValue value) {
    channel->write(value);
}
}  // namespace

Task<void> progress_writer(std::shared_ptr<ProgressChannel> channel) {
    // However it ends (cancelled in its sleep included), `writing_` goes false.
    struct Done {
        ProgressChannel& channel;
        bool armed = true;
        ~Done() {
            if (!armed) return;
            std::lock_guard lock(channel.mutex_);
            channel.writing_ = false;
        }
    } done{*channel};
    for (;;) {
        Clock& clock = *channel->sink_->clock;
        SteadyTime due;
        {
            std::lock_guard lock(channel->mutex_);
            due = channel->last_write_ + channel->sink_->interval;
        }
        if (due > clock.steady_now()) co_await sleep_until(clock, due);
        std::optional<ProgressValue> value;
        {
            std::lock_guard lock(channel->mutex_);
            if (!channel->pending_ || channel->closed_) {
                // Under the same lock as the check, so a `set` right after starts a writer.
                channel->writing_ = false;
                done.armed = false;
                co_return;
            }
            value = std::move(channel->pending_);
            channel->pending_.reset();
            channel->last_write_ = channel->sink_->clock->steady_now();
        }
        // Shielded: a write must not be left running behind `close`, or it could land after
        // the final value and overwrite it.
        Task<void> write = to_thread(write_progress, channel, std::move(*value));
        co_await shielded(std::move(write));
    }
}

Task<std::optional<ProgressValue>> ProgressChannel::close() {
    // `set` refuses new writers once closed; the one still running (its handle may not be
    // stored yet when `set` raced with this) is waited for until it has cleared `writing_`.
    for (;;) {
        TaskHandle<void> writer;
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            if (!writing_) break;
            writer = writer_;
        }
        if (writer && !writer.done()) {
            writer.cancel(CancelReason::abandoned);
            try {
                co_await writer.wait_shielded();
            } catch (...) {
                // Cancelled in its sleep, as asked; a failed write was logged by `write`.
            }
        } else {
            co_await sleep_for(std::chrono::milliseconds(1));
        }
    }
    std::lock_guard lock(mutex_);
    writer_ = {};
    auto value = std::move(pending_);
    pending_.reset();
    co_return value;
}

std::optional<std::optional<ProgressValue>> ProgressChannel::close_if_idle() {
    std::lock_guard lock(mutex_);
    if (writing_) return std::nullopt;
    closed_ = true;
    std::optional<std::optional<ProgressValue>> value(std::in_place, std::move(pending_));
    pending_.reset();
    return value;
}

}  // namespace detail

JobContext::JobContext(const JobRecord& record, boost::json::value args,
                       std::shared_ptr<const detail::ProgressSink> progress)
    : id_(record.id),
      name_(record.name),
      queue_(record.queue),
      attempt_(record.attempt),
      max_attempts_(record.max_attempts),
      args_(std::move(args)),
      sink_(std::move(progress)) {}

JobContext::~JobContext() = default;

void JobContext::set_progress(double fraction, std::string message) {
    if (!(fraction >= 0.0 && fraction <= 1.0)) {
        throw std::invalid_argument("set_progress: the fraction must be between 0 and 1");
    }
    std::shared_ptr<detail::ProgressChannel> channel;
    {
        std::lock_guard lock(progress_mutex_);
        if (progress_ended_ || !sink_) return;
        if (!channel_) channel_ = std::make_shared<detail::ProgressChannel>(sink_, id_);
        channel = channel_;
    }
    // A call that races with `end_progress` finds the channel closed and is dropped.
    channel->set(fraction, std::move(message));
}

std::shared_ptr<detail::ProgressChannel> JobContext::end_progress() {
    std::lock_guard lock(progress_mutex_);
    progress_ended_ = true;
    return channel_;
}

}  // namespace afterwork
