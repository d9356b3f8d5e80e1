/* A stand-in for libleakwatch_preload.so in the `leakwatch run` tests: a shared library that does nothing. */
int leakwatch_cli_test_empty_preload(void) { return 0; }
