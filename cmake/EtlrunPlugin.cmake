# etlrun_add_plugin(<name> SOURCES <files...> [LIBRARIES <targets...>])
#
# Builds an etlrun plugin: a MODULE library named libetl_<name>.so with hidden symbols (so two plugins
# never clash), linked to the etlrun core. The loader finds a plugin by that file name, so <name> must
# match the name in the plugin's ETL_PLUGIN declaration. Works in-tree and after find_package(etlrun).
function(etlrun_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  set(target etl_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  if(TARGET etlcore)
    target_link_libraries(${target} PRIVATE etlcore ${ARG_LIBRARIES})
    target_compile_options(${target} PRIVATE ${ETLRUN_WARNINGS})
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ETLRUN_PLUGIN_BUILD_DIR})
    install(TARGETS ${target} LIBRARY DESTINATION ${ETLRUN_PLUGIN_INSTALL_DIR})
    set_property(GLOBAL APPEND PROPERTY ETLRUN_BUNDLED_PLUGINS ${target})
  else()
    target_link_libraries(${target} PRIVATE etlrun::core ${ARG_LIBRARIES})
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX "lib" OUTPUT_NAME etl_${name}
    CXX_STANDARD 17 CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
endfunction()
