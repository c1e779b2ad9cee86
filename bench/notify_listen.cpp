// Benchmark helper: LISTENs on customer_profile_segment for a number of
// seconds and writes one line per notification: profile_id, segment,
// change, and the wall-clock time it arrived (epoch seconds, microseconds).
//
// Usage: notify_listen "<libpq connection string>" <seconds> <output file>
#include <pqxx/notification>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace {

class Recorder : public pqxx::notification_receiver {
public:
    Recorder(pqxx::connection_base& c, std::FILE* out)
        : pqxx::notification_receiver(c, "customer_profile_segment"), out_(out) {}
    void operator()(const std::string& payload, int) override {
        double at = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        auto j = nlohmann::json::parse(payload);
        if (!j.contains("profile_id")) return;  // a refresh summary
        std::fprintf(out_, "%lld\t%s\t%s\t%.6f\n", j.at("profile_id").get<long long>(),
                     j.at("segment").get<std::string>().c_str(), j.at("change").get<std::string>().c_str(), at);
    }

private:
    std::FILE* out_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: notify_listen <conninfo> <seconds> <output file>\n");
        return 2;
    }
    std::FILE* out = std::fopen(argv[3], "w");
    if (out == nullptr) {
        std::perror(argv[3]);
        return 1;
    }
    try {
        pqxx::connection c(argv[1]);
        Recorder recorder(c, out);
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(std::stoi(argv[2]));
        while (std::chrono::steady_clock::now() < until) c.await_notification(0, 100000);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "notify_listen: %s\n", e.what());
        return 1;
    }
    std::fclose(out);
    return 0;
}
