// SPDX-License-Identifier: MIT
#include <afterwork/jobs/store_url.hpp>

#include <charconv>

#include <fmt/format.h>

namespace afterwork {

namespace {

JobsError bad_url(std::string_view shown, std::string_view problem) {
    return JobsError(JobsErrc::invalid_argument,
                     fmt::format("store URL \"{}\": {}", shown, problem));
}

// What an error may show of the URL: never the password.
std::string shown_of(std::string_view url) {
    const auto scheme_end = url.find("://");
    const auto at = url.rfind('@');
    if (scheme_end == std::string_view::npos || at == std::string_view::npos || at < scheme_end) {
        return std::string(url.substr(0, 200));
    }
    return fmt::format("{}://***@{}", url.substr(0, scheme_end), url.substr(at + 1, 200));
}

template <class Int>
std::optional<Int> whole_number(std::string_view text) {
    Int value{};
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decoded(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int high = hex_digit(text[i + 1]);
        const int low = hex_digit(text[i + 2]);
        if (high < 0 || low < 0) return std::nullopt;
        out += static_cast<char>(high * 16 + low);
        i += 2;
    }
    return out;
}

JobsResult<StoreUrl> parse_sqlite(std::string_view url, std::string_view rest) {
    if (rest.starts_with("//")) {
        // sqlite:///abs/path: an empty authority, then the absolute path.
        rest.remove_prefix(2);
        if (!rest.starts_with('/')) {
            return bad_url(url, "names a host; a SQLite store is a local file: "
                                "sqlite:///absolute/path.db");
        }
    }
    if (rest.empty()) return bad_url(url, "has no file path");
    StoreUrl parsed;
    parsed.kind = StoreUrl::Kind::sqlite;
    parsed.path = std::filesystem::path(std::string(rest));
    return parsed;
}

JobsResult<StoreUrl> parse_redis(std::string_view url, std::string_view rest) {
    const std::string shown = shown_of(url);
    StoreUrl parsed;
    parsed.kind = StoreUrl::Kind::redis;
    if (const auto query = rest.find_first_of("?#"); query != std::string_view::npos) {
        return bad_url(shown, "has a query or fragment; options are not taken from the URL");
    }
    // The last '@' ends the credentials: a percent-decoded password may not hold a raw '@',
    // but people write one anyway, and the host never does.
    std::string_view authority = rest.substr(0, rest.find('/'));
    std::string_view path = rest.substr(authority.size());
    if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
        std::string_view credentials = authority.substr(0, at);
        authority.remove_prefix(at + 1);
        std::string_view user;
        std::string_view password = credentials;
        if (const auto colon = credentials.find(':'); colon != std::string_view::npos) {
            user = credentials.substr(0, colon);
            password = credentials.substr(colon + 1);
        } else {
            return bad_url(shown, "credentials need a ':' before the password "
                                  "(redis://:password@host or redis://user:password@host)");
        }
        auto decoded = percent_decoded(password);
        if (!decoded) return bad_url(shown, "the password has a bad percent-escape");
        if (!user.empty()) {
            auto decoded_user = percent_decoded(user);
            if (!decoded_user) return bad_url(shown, "the user has a bad percent-escape");
            parsed.user = std::move(*decoded_user);
        }
        parsed.password = std::move(*decoded);
    }
    std::string_view host = authority;
    std::string_view port;
    const bool bracketed = host.starts_with('[');
    if (bracketed) {
        const auto close = host.find(']');
        if (close == std::string_view::npos) return bad_url(shown, "an IPv6 host lacks its ']'");
        const std::string_view after = host.substr(close + 1);
        if (!after.empty()) {
            if (!after.starts_with(':')) return bad_url(shown, "junk after the IPv6 host");
            port = after.substr(1);
            if (port.empty()) return bad_url(shown, "an empty port after ':'");
        }
        host = host.substr(1, close - 1);
    } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
        port = host.substr(colon + 1);
        host = host.substr(0, colon);
        if (port.empty()) return bad_url(shown, "an empty port after ':'");
    }
    if (host.empty()) return bad_url(shown, "has no host (redis://host:6379)");
    if (!bracketed && host.find(':') != std::string_view::npos) {
        return bad_url(shown, "an IPv6 host goes in brackets: redis://[::1]:6379");
    }
    for (char c : host) {
        const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
                             c == ':';
        if (!allowed) return bad_url(shown, fmt::format("the host has a '{}'", c));
    }
    parsed.host = std::string(host);
    if (!port.empty()) {
        const auto number = whole_number<unsigned>(port);
        if (!number || *number == 0 || *number > 65535) {
            return bad_url(shown, fmt::format("port must be 1 to 65535, got \"{}\"",
                                              port.substr(0, 20)));
        }
        parsed.port = static_cast<std::uint16_t>(*number);
    }
    if (!path.empty()) {
        path.remove_prefix(1);  // the '/'
        if (!path.empty()) {
            const auto number = whole_number<int>(path);
            if (!number || *number < 0) {
                return bad_url(shown, fmt::format("the database must be a number from 0, got \"{}\"",
                                                  path.substr(0, 20)));
            }
            parsed.database = *number;
        }
    }
    return parsed;
}

}  // namespace

std::string StoreUrl::redacted() const {
    if (kind == Kind::sqlite) {
        const auto text = path.string();
        return text.starts_with('/') ? "sqlite://" + text : "sqlite:" + text;
    }
    std::string credentials;
    if (password) credentials = (user ? *user : std::string()) + ":***@";
    const bool ipv6 = host.find(':') != std::string::npos;
    return fmt::format("redis://{}{}{}{}:{}/{}", credentials, ipv6 ? "[" : "", host,
                       ipv6 ? "]" : "", port, database);
}

JobsResult<StoreUrl> parse_store_url(std::string_view url) {
    if (url.size() > kMaxStoreUrlLength) {
        return bad_url(url.substr(0, 40),
                       fmt::format("is {} characters long; at most {}", url.size(),
                                   kMaxStoreUrlLength));
    }
    for (std::size_t i = 0; i < url.size(); ++i) {
        const auto c = static_cast<unsigned char>(url[i]);
        if (c < 0x20 || c == 0x7f) {
            // Not echoed: a NUL would cut the message, a newline would forge a log line.
            return JobsError(JobsErrc::invalid_argument,
                             fmt::format("store URL has a control character (0x{:02x}) at "
                                         "position {}",
                                         c, i));
        }
    }
    if (url.starts_with("sqlite:")) return parse_sqlite(url, url.substr(7));
    if (url.starts_with("redis://")) return parse_redis(url, url.substr(8));
    if (url.starts_with("rediss://")) {
        return bad_url(shown_of(url), "TLS (rediss://) is not supported: use redis:// on a "
                                      "private network or a TLS tunnel");
    }
    return bad_url(shown_of(url), "unknown kind; expected sqlite:///absolute/path.db, "
                                  "sqlite:relative/path.db or redis://host:port/db");
}

}  // namespace afterwork
