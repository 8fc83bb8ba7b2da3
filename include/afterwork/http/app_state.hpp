// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `AppState`: the app's shared objects (pools, clients, caches), one per type, set up in the
/// lifespan's startup and read by handlers — FastAPI's `app.state`, typed.
///
/// @par Thread safety
/// `emplace` is for startup only (before the app serves; afterwards it throws
/// `std::logic_error`). `get`/`find` are then safe from every loop thread without a lock. The
/// stored objects are shared by all loops: each must be thread-safe itself or be guarded.

#include <memory>
#include <stdexcept>
#include <string>
#include <typeindex>
#include <typeinfo>
#include <unordered_map>
#include <utility>

namespace afterwork {

class AppState {
public:
    /// Creates the `T` of this state, replacing an earlier one, and returns it.
    template <class T, class... Args>
    T& emplace(Args&&... args) {
        check_mutable();
        auto object = std::make_shared<T>(std::forward<Args>(args)...);
        T& ref = *object;
        objects_[std::type_index(typeid(T))] = std::move(object);
        return ref;
    }

    /// The `T` set up at startup; throws `std::logic_error` if there is none.
    template <class T>
    T& get() const {
        if (T* object = find<T>()) return *object;
        throw std::logic_error(std::string("app state holds no ") + typeid(T).name());
    }

    /// The `T` set up at startup, or nullptr.
    template <class T>
    T* find() const noexcept {
        auto it = objects_.find(std::type_index(typeid(T)));
        return it == objects_.end() ? nullptr : static_cast<T*>(it->second.get());
    }

    /// Called by the app when it starts serving; later `emplace` calls throw.
    void freeze() noexcept { frozen_ = true; }
    /// Called by the app after shutdown, so the state can be torn down.
    void thaw() noexcept { frozen_ = false; }
    void clear() {
        check_mutable();
        objects_.clear();
    }

private:
    void check_mutable() const {
        if (frozen_) {
            throw std::logic_error(
                "app state is read-only while the app serves: set it up in startup");
        }
    }

    std::unordered_map<std::type_index, std::shared_ptr<void>> objects_;
    bool frozen_ = false;
};

}  // namespace afterwork
