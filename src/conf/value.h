// The tree a configuration file parses to: maps (keys in file order), arrays and scalars, each
// with the place in the source it came from.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gannet::conf {

// Where a key or value starts: 1-based line and column (in bytes). `file` is shared by every
// position of one file; empty for text parsed from a string.
struct Position {
  std::shared_ptr<const std::string> file;
  int line = 0;
  int column = 0;

  std::string FileName() const { return file ? *file : std::string(); }
  // "file:line:col" ("<string>:line:col" for text not read from a file).
  std::string ToString() const;
};

enum class Kind { kString, kInteger, kFloat, kBool, kDatetime, kArray, kMap };

const char* KindName(Kind kind);

struct MapEntry;

class Value {
 public:
  Value() = default;  // an empty map
  static Value String(std::string s, Position pos);
  static Value Integer(int64_t i, Position pos);
  static Value Float(double d, Position pos);
  static Value Bool(bool b, Position pos);
  // An ISO8601 Zulu date ("2016-05-04T18:53:41Z"): the text and the seconds since the epoch.
  static Value Datetime(std::string text, int64_t epoch_seconds, Position pos);
  static Value EmptyArray(Position pos);
  static Value EmptyMap(Position pos);

  Kind kind() const { return kind_; }
  bool IsString() const { return kind_ == Kind::kString; }
  bool IsInteger() const { return kind_ == Kind::kInteger; }
  bool IsFloat() const { return kind_ == Kind::kFloat; }
  bool IsBool() const { return kind_ == Kind::kBool; }
  bool IsDatetime() const { return kind_ == Kind::kDatetime; }
  bool IsArray() const { return kind_ == Kind::kArray; }
  bool IsMap() const { return kind_ == Kind::kMap; }

  // Accessors of the scalar kinds; calling the wrong one is a programming error (asserts) and
  // returns a default.
  const std::string& AsString() const;  // also the text of a datetime
  int64_t AsInteger() const;            // also the epoch seconds of a datetime
  double AsFloat() const;
  bool AsBool() const;

  const std::vector<Value>& AsArray() const { return array_; }
  std::vector<Value>& AsArray() { return array_; }
  const std::vector<MapEntry>& AsMap() const { return map_; }
  std::vector<MapEntry>& AsMap() { return map_; }

  // Map lookup. Find matches the key exactly; FindIgnoreCase as the reference's options do
  // (strings.ToLower on both sides), returning the last such key in file order (a later
  // definition wins). nullptr if absent or if this is not a map.
  const Value* Find(std::string_view key) const;
  const Value* FindIgnoreCase(std::string_view key) const;
  const MapEntry* FindEntryIgnoreCase(std::string_view key) const;

  // Sets `key` in a map: replaces the value of an existing identical key (as the reference does,
  // the later definition wins) or appends.
  void Set(std::string key, Position key_pos, Value value);

  const Position& position() const { return pos_; }
  void set_position(Position pos) { pos_ = std::move(pos); }

  // True once some `$name` reference resolved to this value (the reference's pedantic mode
  // does not report such keys as unknown fields).
  bool used_as_variable() const { return used_as_variable_; }
  void mark_used_as_variable() const { used_as_variable_ = true; }
  void clear_used_as_variable() { used_as_variable_ = false; }

  // A compact rendering for tests and messages: {a: 1, b: ["x", 2.5, true]} (strings always
  // quoted, floats always with a point or exponent).
  std::string ToDebugString() const;

 private:
  Kind kind_ = Kind::kMap;
  std::string string_;
  int64_t integer_ = 0;
  double float_ = 0;
  bool bool_ = false;
  std::vector<Value> array_;
  std::vector<MapEntry> map_;
  Position pos_;
  mutable bool used_as_variable_ = false;
};

struct MapEntry {
  std::string key;  // as written
  Position key_position;
  Value value;
};

}  // namespace gannet::conf
