src/extension/module.o: src/extension/module.cc src/extension/pg_bridge.h \
 src/extension/error.h src/extension/pg.h
src/extension/pg_bridge.h:
src/extension/error.h:
src/extension/pg.h:
