src/extension/selftest.o: src/extension/selftest.cc \
 src/extension/pg_datum.h src/extension/pg_bridge.h src/extension/error.h \
 src/extension/pg.h
src/extension/pg_datum.h:
src/extension/pg_bridge.h:
src/extension/error.h:
src/extension/pg.h:
