src/extension/pg_bridge.o: src/extension/pg_bridge.cc \
 src/extension/pg_bridge.h src/extension/error.h src/extension/pg.h
src/extension/pg_bridge.h:
src/extension/error.h:
src/extension/pg.h:
