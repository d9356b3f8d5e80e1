/* A statically linked program (no PT_INTERP): what `leakwatch run` must refuse to start. */
int main(void) { return 0; }
