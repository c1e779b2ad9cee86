// person_gen: synthetic person records with known truth, for the matching
// benchmarks (issue 17).
//
//   person_gen <out.tsv> <people> <duplicate_rate> <seed>
//
// Writes one line per record:
//   record_id  person_id  source  first_name  last_name  address  dob  national_id
// (an empty field is a missing value). Each person has one original record;
// with probability duplicate_rate a person gets duplicates (1 to 3, more
// being rarer), each corrupted independently. Records are written in a random
// arrival order.
//
// The corruption follows the model of Christen and Pudjijono ("Accurate
// synthetic generation of realistic personal information", PAKDD 2009, the
// model behind FEBRL's and GeCo's generators): each duplicate gets up to
// kMaxChangesPerRecord modifications, each picked by its rate from
//   typographical errors (keyboard-neighbour substitution, insertion,
//     deletion, transposition of adjacent characters),
//   OCR errors (characters of similar shape: 0/o, 1/l, 5/s, 8/b, rn/m, cl/d),
//   phonetic variations (ph/f, ck/k, y/i, ei/ie, ou/ow, c/k, z/s),
//   nicknames (William/Bill, Robert/Bob, ...),
//   value swaps (first and last name; day and month of the birth date),
//   missing values,
//   changed addresses (the person moved),
// with rates from that paper's experiments (see kRates below). Names and
// streets are drawn from Zipf-like distributions, as real ones are.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr int kMaxChangesPerRecord = 3;

struct Rates {
    double typo = 0.30, ocr = 0.08, phonetic = 0.12, nickname = 0.10, name_swap = 0.04, day_month_swap = 0.08,
           missing = 0.10, moved = 0.08;
} const kRates;

const char* kFirst[] = {
    "james",     "mary",      "john",        "patricia", "robert",    "jennifer", "michael",   "linda",    "william",
    "elizabeth", "david",     "barbara",     "richard",  "susan",     "joseph",   "jessica",   "thomas",   "sarah",
    "charles",   "karen",     "christopher", "nancy",    "daniel",    "lisa",     "matthew",   "margaret", "anthony",
    "betty",     "donald",    "sandra",      "mark",     "ashley",    "paul",     "dorothy",   "steven",   "kimberly",
    "andrew",    "emily",     "kenneth",     "donna",    "joshua",    "michelle", "kevin",     "carol",    "brian",
    "amanda",    "george",    "melissa",     "edward",   "deborah",   "ronald",   "stephanie", "timothy",  "rebecca",
    "jason",     "laura",     "jeffrey",     "sharon",   "ryan",      "cynthia",  "jacob",     "kathleen", "gary",
    "amy",       "nicholas",  "shirley",     "eric",     "angela",    "jonathan", "helen",     "stephen",  "anna",
    "larry",     "brenda",    "justin",      "pamela",   "scott",     "nicole",   "brandon",   "emma",     "benjamin",
    "samantha",  "samuel",    "katherine",   "frank",    "christine", "gregory",  "debra",     "raymond",  "rachel",
    "alexander", "catherine", "patrick",     "carolyn",  "jack",      "janet",    "dennis",    "ruth",     "jerry",
    "maria",     "tyler",     "heather",     "aaron",    "diane",     "jose",     "virginia",  "adam",     "julie",
    "henry",     "joyce",     "nathan",      "victoria", "douglas",   "olivia",   "zachary",   "kelly",    "peter",
    "christina", "kyle",      "lauren",      "walter",   "joan",      "ethan",    "evelyn",    "jeremy",   "judith",
    "harold",    "megan",     "keith",       "cheryl",   "christian", "andrea",   "roger",     "hannah",   "noah",
    "martha",    "gerald",    "jacqueline",  "carl",     "frances",   "terry",    "gloria",    "sean",     "ann"};

const std::map<std::string, std::vector<std::string>> kNicknames = {{"william", {"bill", "will", "billy"}},
                                                                    {"robert", {"bob", "rob", "bobby"}},
                                                                    {"richard", {"dick", "rick"}},
                                                                    {"james", {"jim", "jimmy"}},
                                                                    {"john", {"jack", "johnny"}},
                                                                    {"elizabeth", {"liz", "beth"}},
                                                                    {"margaret", {"maggie", "peggy"}},
                                                                    {"michael", {"mike"}},
                                                                    {"joseph", {"joe"}},
                                                                    {"thomas", {"tom"}},
                                                                    {"charles", {"charlie", "chuck"}},
                                                                    {"christopher", {"chris"}},
                                                                    {"daniel", {"dan", "danny"}},
                                                                    {"matthew", {"matt"}},
                                                                    {"anthony", {"tony"}},
                                                                    {"jennifer", {"jen", "jenny"}},
                                                                    {"patricia", {"pat", "trish"}},
                                                                    {"susan", {"sue"}},
                                                                    {"jessica", {"jess"}},
                                                                    {"katherine", {"kate", "kathy"}},
                                                                    {"kimberly", {"kim"}},
                                                                    {"steven", {"steve"}},
                                                                    {"andrew", {"andy", "drew"}},
                                                                    {"kenneth", {"ken"}},
                                                                    {"nicholas", {"nick"}},
                                                                    {"benjamin", {"ben"}},
                                                                    {"samuel", {"sam"}},
                                                                    {"alexander", {"alex"}},
                                                                    {"edward", {"ed", "ted"}},
                                                                    {"timothy", {"tim"}},
                                                                    {"rebecca", {"becky"}},
                                                                    {"deborah", {"deb", "debbie"}},
                                                                    {"victoria", {"vicky"}},
                                                                    {"gregory", {"greg"}},
                                                                    {"douglas", {"doug"}},
                                                                    {"zachary", {"zach"}},
                                                                    {"jonathan", {"jon"}},
                                                                    {"stephanie", {"steph"}},
                                                                    {"christina", {"tina"}}};

// Surnames and street names from syllables: thousands of distinct,
// pronounceable names with a long tail.
const char* kOnsets[] = {"b", "br", "c", "ch", "d",  "f", "g",  "gr", "h", "j",  "k", "l", "m",  "n",
                         "p", "r",  "s", "sh", "st", "t", "th", "v",  "w", "wh", "y", "z", "mc", "o"};
const char* kNuclei[] = {"a", "e", "i", "o", "u", "ai", "ea", "ee", "oo", "ou", "y"};
const char* kCodas[] = {"n",   "r",  "rd", "ll", "ck", "ton", "son", "man",   "ley",  "field", "wood",  "ford",
                        "ham", "er", "s",  "t",  "th", "ng",  "ly",  "ngton", "well", "berg",  "stein", ""};
const char* kStreetTypes[][2] = {{"street", "st"},     {"road", "rd"},    {"avenue", "ave"}, {"circuit", "cct"},
                                 {"drive", "dr"},      {"lane", "ln"},    {"court", "ct"},   {"place", "pl"},
                                 {"crescent", "cres"}, {"terrace", "tce"}};

const char* kKeyboard[] = {"qwertyuiop", "asdfghjkl", "zxcvbnm"};

struct Person {
    std::string first, last, street_no, street, street_type, dob, national_id;
};

class Generator {
public:
    explicit Generator(unsigned long seed) : rng_(seed) {}

    double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
    std::size_t below(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    // Zipf-like over [0, n): small ranks are common.
    std::size_t zipf(std::size_t n) {
        double u = uniform();
        return std::min(n - 1, static_cast<std::size_t>(std::pow(static_cast<double>(n), u) - 1));
    }

    std::string syllable_name(std::size_t rank) {
        std::mt19937_64 local(rank * 7919 + 17);  // the same rank, the same name
        auto pick = [&](std::size_t n) { return static_cast<std::size_t>(local() % n); };
        std::string s = kOnsets[pick(std::size(kOnsets))];
        s += kNuclei[pick(std::size(kNuclei))];
        if (local() % 3 == 0) {
            s += kCodas[pick(std::size(kCodas))];
            s += kNuclei[pick(std::size(kNuclei))];
        }
        s += kCodas[pick(std::size(kCodas))];
        return s;
    }

    Person person(std::size_t index) {
        Person p;
        p.first = kFirst[zipf(std::size(kFirst))];
        p.last = syllable_name(zipf(20000));
        p.street_no = std::to_string(1 + zipf(400));
        p.street = syllable_name(100000 + zipf(5000));
        p.street_type = std::to_string(below(std::size(kStreetTypes)));
        int year = 1930 + static_cast<int>(below(76)), month = 1 + static_cast<int>(below(12)),
            day = 1 + static_cast<int>(below(28));
        char buf[48];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", year, month, day);
        p.dob = buf;
        std::snprintf(buf, sizeof buf, "%09zu", (index * 48271 + 12345) % 1000000000);
        p.national_id = buf;
        return p;
    }

    char neighbour(char c) {
        for (const char* row : kKeyboard) {
            const char* at = std::strchr(row, c);
            if (!at) continue;
            std::size_t i = static_cast<std::size_t>(at - row), len = std::strlen(row);
            if (i == 0) return row[1];
            if (i + 1 == len) return row[i - 1];
            return uniform() < 0.5 ? row[i - 1] : row[i + 1];
        }
        if (c >= '0' && c <= '9') return static_cast<char>('0' + (c - '0' + 1 + static_cast<int>(below(9))) % 10);
        return c;
    }

    void typo(std::string& s) {
        if (s.empty()) return;
        std::size_t i = below(s.size());
        double kind = uniform();
        if (kind < 0.4)
            s[i] = neighbour(s[i]);
        else if (kind < 0.6)
            s.insert(s.begin() + static_cast<long>(i), neighbour(s[i]));
        else if (kind < 0.8 && s.size() > 2)
            s.erase(s.begin() + static_cast<long>(i));
        else if (i + 1 < s.size())
            std::swap(s[i], s[i + 1]);
    }

    bool replace_once(std::string& s, const std::string& from, const std::string& to) {
        std::size_t at = s.find(from);
        if (at == std::string::npos) return false;
        s.replace(at, from.size(), to);
        return true;
    }

    void ocr(std::string& s) {
        static const char* pairs[][2] = {{"0", "o"}, {"o", "0"}, {"1", "l"},  {"l", "1"},  {"5", "s"},  {"s", "5"},
                                         {"8", "b"}, {"b", "8"}, {"m", "rn"}, {"rn", "m"}, {"d", "cl"}, {"g", "9"}};
        for (int tries = 0; tries < 4; ++tries) {
            const auto& p = pairs[below(std::size(pairs))];
            if (replace_once(s, p[0], p[1])) return;
        }
    }

    void phonetic(std::string& s) {
        static const char* pairs[][2] = {{"ph", "f"},  {"f", "ph"},  {"ck", "k"}, {"y", "i"}, {"i", "y"},
                                         {"ei", "ie"}, {"ou", "ow"}, {"c", "k"},  {"z", "s"}, {"ee", "ea"}};
        for (int tries = 0; tries < 6; ++tries) {
            const auto& p = pairs[below(std::size(pairs))];
            if (replace_once(s, p[0], p[1])) return;
        }
    }

    // One duplicate: the person's values, each field then modified by the model.
    std::vector<std::string> corrupt(const Person& p) {
        std::string first = p.first, last = p.last, dob = p.dob, nid = p.national_id;
        std::size_t type = std::strtoul(p.street_type.c_str(), nullptr, 10);
        bool abbreviated = uniform() < 0.5;
        std::string street_no = p.street_no, street = p.street;
        bool missing[5] = {false, false, false, false, false};  // first, last, address, dob, national id
        int changes = 1 + static_cast<int>(below(kMaxChangesPerRecord));
        for (int c = 0; c < changes; ++c) {
            double total = kRates.typo + kRates.ocr + kRates.phonetic + kRates.nickname + kRates.name_swap +
                           kRates.day_month_swap + kRates.missing + kRates.moved;
            double r = uniform() * total;
            int field = static_cast<int>(below(5));
            std::string* target = field == 0   ? &first
                                  : field == 1 ? &last
                                  : field == 2 ? &street
                                  : field == 3 ? &dob
                                               : &nid;
            if ((r -= kRates.typo) < 0) {
                typo(*target);
            } else if ((r -= kRates.ocr) < 0) {
                ocr(*target);
            } else if ((r -= kRates.phonetic) < 0) {
                phonetic(field == 0 ? first : last);
            } else if ((r -= kRates.nickname) < 0) {
                auto it = kNicknames.find(p.first);
                if (it != kNicknames.end())
                    first = it->second[below(it->second.size())];
                else
                    typo(first);
            } else if ((r -= kRates.name_swap) < 0) {
                std::swap(first, last);
            } else if ((r -= kRates.day_month_swap) < 0) {
                // Only a well-formed date whose day could be a month (an earlier change may have broken it).
                bool well_formed = dob.size() == 10 && dob[4] == '-' && dob[7] == '-' &&
                                   std::isdigit(static_cast<unsigned char>(dob[8])) &&
                                   std::isdigit(static_cast<unsigned char>(dob[9]));
                if (well_formed && std::atoi(dob.substr(8, 2).c_str()) <= 12)
                    dob = dob.substr(0, 5) + dob.substr(8, 2) + "-" + dob.substr(5, 2);
                else
                    typo(dob);
            } else if ((r -= kRates.missing) < 0) {
                missing[field] = true;
            } else {
                street_no = std::to_string(1 + zipf(400));
                street = syllable_name(100000 + zipf(5000));
                type = below(std::size(kStreetTypes));
            }
        }
        std::string address = street_no + " " + street + " " + kStreetTypes[type][abbreviated ? 1 : 0];
        return {missing[0] ? "" : first, missing[1] ? "" : last, missing[2] ? "" : address, missing[3] ? "" : dob,
                missing[4] ? "" : nid};
    }

private:
    std::mt19937_64 rng_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s <out.tsv> <people> <duplicate_rate> <seed>\n", argv[0]);
        return 2;
    }
    std::size_t people = std::strtoul(argv[2], nullptr, 10);
    double rate = std::strtod(argv[3], nullptr);
    Generator g(std::strtoul(argv[4], nullptr, 10));
    struct Record {
        std::size_t person;
        bool original;
        std::vector<std::string> values;
    };
    std::vector<Record> records;
    for (std::size_t i = 0; i < people; ++i) {
        Person p = g.person(i);
        std::string address =
            p.street_no + " " + p.street + " " + kStreetTypes[std::strtoul(p.street_type.c_str(), nullptr, 10)][0];
        records.push_back({i, true, {p.first, p.last, address, p.dob, p.national_id}});
        if (g.uniform() < rate) {
            int copies = 1 + (g.uniform() < 0.3 ? 1 : 0) + (g.uniform() < 0.1 ? 1 : 0);
            for (int c = 0; c < copies; ++c) records.push_back({i, false, g.corrupt(p)});
        }
    }
    std::shuffle(records.begin(), records.end(), std::mt19937_64(std::strtoul(argv[4], nullptr, 10) + 1));
    FILE* out = std::fopen(argv[1], "w");
    if (!out) {
        std::perror(argv[1]);
        return 1;
    }
    for (std::size_t r = 0; r < records.size(); ++r) {
        const auto& rec = records[r];
        std::fprintf(out, "r%zu\tp%zu\t%s", r + 1, rec.person, rec.original ? "crm" : "support");
        for (const auto& v : rec.values) std::fprintf(out, "\t%s", v.c_str());
        std::fprintf(out, "\n");
    }
    std::fclose(out);
    std::fprintf(stderr, "%zu people, %zu records\n", people, records.size());
    return 0;
}
