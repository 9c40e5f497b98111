#include "pageserver/pq/command.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace zenith::pageserver {

namespace {

// The words of `usage` after the command name; a `[...]` group is one word
// even where it holds spaces.
std::vector<std::string_view> UsageWords(std::string_view usage) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < usage.size()) {
    if (usage[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = i;
    int depth = 0;
    while (end < usage.size() && (depth > 0 || usage[end] != ' ')) {
      if (usage[end] == '[') ++depth;
      if (usage[end] == ']') --depth;
      ++end;
    }
    words.push_back(usage.substr(i, end - i));
    i = end;
  }
  if (!words.empty()) words.erase(words.begin());  // the name
  return words;
}

[[noreturn]] void Abort(const std::string& name, const char* what) {
  std::fprintf(stderr, "CommandTable::Add: command \"%s\": %s\n", name.c_str(), what);
  std::abort();
}

}  // namespace

ArgCount ArgCountOf(std::string_view usage) {
  ArgCount count;
  for (std::string_view word : UsageWords(usage)) {
    if (word.ends_with("...") || word.ends_with("...]")) {
      count.max = SIZE_MAX;
      if (!word.starts_with('[')) ++count.min;
      break;
    }
    if (!word.starts_with('[')) ++count.min;
    ++count.max;
  }
  return count;
}

void CommandTable::Add(CommandSpec spec) {
  const std::string name = spec.name;
  if (name.empty() || name.find_first_of(" \t\r\n\f\v;") != std::string::npos) Abort(name, "invalid name");
  if (!spec.handler) Abort(name, "no handler");
  if (specs_.count(name) != 0) Abort(name, "added twice");
  if (spec.usage != name && !spec.usage.starts_with(name + " ")) Abort(name, "the usage does not start with the name");
  const ArgCount count = ArgCountOf(spec.usage);
  spec.handler = [inner = std::move(spec.handler), count](CommandContext& ctx) {
    const size_t n = ctx.args().size();
    if (n < count.min || n > count.max) return UsageError(ctx.usage());
    return inner(ctx);
  };
  specs_.emplace(name, std::move(spec));
}

}  // namespace zenith::pageserver
