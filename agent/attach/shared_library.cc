// libleakwatch.so has no code of its own: it is the static libraries linked whole (see agent/CMakeLists.txt),
// with the exports limited by libleakwatch.map.
