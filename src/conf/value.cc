// The configuration value tree (see value.h).
#include "conf/value.h"

#include "base/strings.h"

#include <cassert>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <string>
#include <system_error>

namespace gannet::conf {

namespace {

void AppendDebug(const Value& v, std::string& out) {
  switch (v.kind()) {
    case Kind::kString:
      out += '"';
      for (char c : v.AsString()) {
        if (c == '"' || c == '\\') {
          out += '\\';
          out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
      }
      out += '"';
      break;
    case Kind::kInteger:
      out += std::to_string(v.AsInteger());
      break;
    case Kind::kFloat: {
      char buf[64];
      auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v.AsFloat());  // shortest form
      std::string text(buf, ec == std::errc() ? end : buf);
      // Keep floats distinguishable from integers: 22 -> 22.0.
      if (text.find_first_of(".einn") == std::string::npos) text += ".0";
      out += text;
      break;
    }
    case Kind::kBool:
      out += v.AsBool() ? "true" : "false";
      break;
    case Kind::kDatetime:
      out += "date(" + v.AsString() + ")";
      break;
    case Kind::kArray: {
      out += '[';
      bool first = true;
      for (const Value& item : v.AsArray()) {
        if (!first) out += ", ";
        first = false;
        AppendDebug(item, out);
      }
      out += ']';
      break;
    }
    case Kind::kMap: {
      out += '{';
      bool first = true;
      for (const MapEntry& e : v.AsMap()) {
        if (!first) out += ", ";
        first = false;
        out += e.key;
        out += ": ";
        AppendDebug(e.value, out);
      }
      out += '}';
      break;
    }
  }
}

}  // namespace

std::string Position::ToString() const {
  return (file ? *file : std::string("<string>")) + ":" + std::to_string(line) + ":" +
         std::to_string(column);
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "string";
    case Kind::kInteger:
      return "integer";
    case Kind::kFloat:
      return "float";
    case Kind::kBool:
      return "boolean";
    case Kind::kDatetime:
      return "datetime";
    case Kind::kArray:
      return "array";
    case Kind::kMap:
      return "map";
  }
  return "?";
}

Value Value::String(std::string s, Position pos) {
  Value v;
  v.kind_ = Kind::kString;
  v.string_ = std::move(s);
  v.pos_ = std::move(pos);
  return v;
}

Value Value::Integer(int64_t i, Position pos) {
  Value v;
  v.kind_ = Kind::kInteger;
  v.integer_ = i;
  v.pos_ = std::move(pos);
  return v;
}

Value Value::Float(double d, Position pos) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.float_ = d;
  v.pos_ = std::move(pos);
  return v;
}

Value Value::Bool(bool b, Position pos) {
  Value v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  v.pos_ = std::move(pos);
  return v;
}

Value Value::Datetime(std::string text, int64_t epoch_seconds, Position pos) {
  Value v;
  v.kind_ = Kind::kDatetime;
  v.string_ = std::move(text);
  v.integer_ = epoch_seconds;
  v.pos_ = std::move(pos);
  return v;
}

Value Value::EmptyArray(Position pos) {
  Value v;
  v.kind_ = Kind::kArray;
  v.pos_ = std::move(pos);
  return v;
}

Value Value::EmptyMap(Position pos) {
  Value v;
  v.kind_ = Kind::kMap;
  v.pos_ = std::move(pos);
  return v;
}

const std::string& Value::AsString() const {
  assert(kind_ == Kind::kString || kind_ == Kind::kDatetime);
  return string_;
}

int64_t Value::AsInteger() const {
  assert(kind_ == Kind::kInteger || kind_ == Kind::kDatetime);
  return integer_;
}

double Value::AsFloat() const {
  assert(kind_ == Kind::kFloat);
  return float_;
}

bool Value::AsBool() const {
  assert(kind_ == Kind::kBool);
  return bool_;
}

const Value* Value::Find(std::string_view key) const {
  if (kind_ != Kind::kMap) return nullptr;
  for (const MapEntry& e : map_) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

const MapEntry* Value::FindEntryIgnoreCase(std::string_view key) const {
  if (kind_ != Kind::kMap) return nullptr;
  const MapEntry* found = nullptr;
  for (const MapEntry& e : map_) {
    if (EqualsIgnoreCase(e.key, key)) found = &e;
  }
  return found;
}

const Value* Value::FindIgnoreCase(std::string_view key) const {
  const MapEntry* e = FindEntryIgnoreCase(key);
  return e ? &e->value : nullptr;
}

void Value::Set(std::string key, Position key_pos, Value value) {
  assert(kind_ == Kind::kMap);
  for (MapEntry& e : map_) {
    if (e.key == key) {
      e.key_position = std::move(key_pos);
      e.value = std::move(value);
      return;
    }
  }
  map_.push_back(MapEntry{std::move(key), std::move(key_pos), std::move(value)});
}

std::string Value::ToDebugString() const {
  std::string out;
  AppendDebug(*this, out);
  return out;
}

}  // namespace gannet::conf
